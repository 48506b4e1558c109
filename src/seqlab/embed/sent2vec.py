"""Sent2Vec: sentence embeddings as the average of learned unigram and bigram vectors.

Paper: "Unsupervised Learning of Sentence Embeddings using Compositional n-Gram Features" (Pagliardini,
Gupta, Jaggi; arXiv 1703.02507). A sentence ``S`` has features ``R(S)``: its (in-vocabulary) unigrams
and the bigrams of consecutive unigrams, each bigram hashed into one of ``bucket`` extra rows. Its
embedding is the mean of the features' source vectors ``v_S = |R(S)|^-1 Σ_{f ∈ R(S)} v_f``.

Training (the paper's eq. 2) is CBOW with the *whole sentence* as the context: for every target word
``w_t`` of ``S`` (frequent targets subsampled as in word2vec), the context is ``R(S)`` without the
target's unigram, ``h = (Σ_{f ∈ R(S)} v_f - v_{w_t}) / (|R(S)| - 1)``, and ``w_t``'s output vector is
trained against ``negative`` noise words drawn from ``P(w) ∝ sqrt(count(w))`` (the paper's ``q_n``)
with the negative-sampling loss of :mod:`seqlab.embed.word2vec`. Vectorised per batch of sentences:
the context of every target is the sentence sum minus one row, so the gradient a feature receives is
``(Σ_t g_t - [f is the target's own unigram] g_f) / (|R(S)| - 1)``.
Not done here: the paper's random dropout of n-grams of the context (``dropoutK``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import torch

from seqlab.embed.vocab import draw_negatives, negative_table
from seqlab.embed.word2vec import Word2Vec, _check_finite, check_positive_int, sgns_step, torch_threads
from seqlab.registry import Paper, register

SENT2VEC = Paper(
    "Unsupervised Learning of Sentence Embeddings using Compositional n-Gram Features", "1703.02507"
)


def bigram_rows(ids: list[int], vocab_size: int, bucket: int) -> list[int]:
    """Rows of the bigrams of consecutive word ids: ``V + (a * 116049371 + b) mod bucket``."""
    return [vocab_size + (a * 116049371 + b) % bucket for a, b in zip(ids, ids[1:])]


@register("embedder", "sent2vec", implements=SENT2VEC, used_by=[SENT2VEC.title])
class Sent2Vec(Word2Vec):
    """Sent2Vec: unigram + hashed-bigram vectors averaged into a sentence embedding."""

    name = "sent2vec"

    def __init__(
        self,
        vector_size: int = 100,
        negative: int = 10,
        min_count: int = 5,
        epochs: int = 5,
        sample: float = 1e-4,
        alpha: float = 0.2,
        min_alpha: float = 0.0,
        bucket: int = 100_000,
        word_ngrams: int = 2,
        batch_sentences: int = 64,
        **kw,
    ):
        if kw.get("hs"):
            raise ValueError("Sent2Vec trains with negative sampling only (hs=1 is not supported)")
        if word_ngrams not in (1, 2):
            raise ValueError(
                f"word_ngrams must be 1 (unigrams) or 2 (unigrams + bigrams), got {word_ngrams!r}"
            )
        super().__init__(
            sg=False,
            vector_size=vector_size,
            negative=negative,
            min_count=min_count,
            epochs=epochs,
            sample=sample,
            alpha=alpha,
            min_alpha=min_alpha,
            ns_exponent=0.5,
            **kw,
        )
        self.bucket = check_positive_int("bucket", bucket)
        self.word_ngrams = word_ngrams
        self.batch_sentences = check_positive_int("batch_sentences", batch_sentences)

    def features(self, ids: list[int]) -> list[int]:
        """Rows of ``R(S)`` for a sentence of word ids: the unigrams, then the bigrams."""
        if self.word_ngrams == 1:
            return list(ids)
        return list(ids) + bigram_rows(ids, len(self.index_to_key), self.bucket)

    def _init_weights(self, gen: torch.Generator) -> None:
        v, d = len(self.vocab), self.vector_size_
        self.w_in = (torch.rand(v + self.bucket, d, generator=gen) - 0.5) / d
        self.w_out = torch.zeros(v, d)

    def fit(self, sentences: Iterable) -> Sent2Vec:
        if iter(sentences) is sentences:
            raise TypeError(
                "sentences must be re-iterable (a list or a corpus object), not a one-shot iterator"
            )
        gen = torch.Generator().manual_seed(self.seed)
        vocab = self.build_vocab(sentences)
        self._init_weights(gen)
        keep = vocab.keep_probability(self.sample).float()
        cum = negative_table(vocab.counts, self.ns_exponent)
        total = self.total_words * self.epochs
        done, losses, t0 = 0, [], time.perf_counter()
        with torch_threads(self.threads), torch.no_grad():
            for _ in range(self.epochs):
                batch: list[list[int]] = []
                raw = 0
                for s in sentences:
                    batch.append(vocab.encode(s))
                    raw += len(s)
                    if len(batch) == self.batch_sentences:
                        losses.append(self._train_batch(batch, keep, cum, gen, self._lr(done, total)))
                        done += raw
                        batch, raw = [], 0
                if batch:
                    losses.append(self._train_batch(batch, keep, cum, gen, self._lr(done, total)))
                    done += raw
        secs = time.perf_counter() - t0
        self.stats = {
            "seconds": secs,
            "words": total,
            "words_per_second": total / max(secs, 1e-9),
            "loss": losses,
        }
        _check_finite("Sent2Vec training diverged: the vectors", self.w_in, " (lower alpha)")
        return self

    def _train_batch(self, batch, keep, cum, gen, lr) -> float:
        feats, fsent, tpos, tsent = [], [], [], []
        n_feat = []
        for si, ids in enumerate(batch):
            f = self.features(ids)
            if len(f) < 2:
                n_feat.append(max(len(f), 1))
                continue
            base = len(feats)
            feats += f
            fsent += [si] * len(f)
            n_feat.append(len(f))
            tpos += [base + j for j in range(len(ids))]  # the unigram features are the targets
            tsent += [si] * len(ids)
        if not tpos:
            return 0.0
        feats_t, fsent_t = torch.tensor(feats), torch.tensor(fsent)
        tpos_t, tsent_t = torch.tensor(tpos), torch.tensor(tsent)
        kept = torch.rand(len(tpos_t), generator=gen) < keep[feats_t[tpos_t]]
        tpos_t, tsent_t = tpos_t[kept], tsent_t[kept]
        if len(tpos_t) == 0:
            return 0.0
        d = self.w_in.shape[1]
        vec = self.w_in[feats_t]
        sums = torch.zeros(len(batch), d).index_put_((fsent_t,), vec, accumulate=True)
        denom = torch.tensor(n_feat, dtype=torch.float32)[tsent_t].sub(1.0).unsqueeze(1)
        h = (sums[tsent_t] - vec[tpos_t]) / denom
        targets = feats_t[tpos_t]
        neg = draw_negatives(cum, (len(targets), self.negative), gen)
        grad, loss = sgns_step(None, self.w_out, None, targets, neg, lr, h=h, with_loss=True)
        g = grad / denom  # per target, per context feature
        per_sent = torch.zeros(len(batch), d).index_put_((tsent_t,), g, accumulate=True)
        feat_grad = per_sent[fsent_t]
        feat_grad.index_put_((tpos_t,), -g, accumulate=True)  # a target's own unigram is not in its context
        self.w_in.index_put_((feats_t,), feat_grad, accumulate=True)
        return loss / len(targets)

    # -- lookup ------------------------------------------------------------------------------------
    def _vectors(self) -> torch.Tensor:
        return self.w_in[: len(self.index_to_key)]

    def _encode_tokens(self, tokens: list[str], i: int) -> torch.Tensor:
        ids = [self.key_to_index[t] for t in tokens if t in self.key_to_index]
        if not ids:
            raise KeyError(f"item {i}: none of its tokens is in the vocabulary: {tokens[:10]!r}")
        return self.w_in[torch.tensor(self.features(ids))].mean(0)

    # -- state -------------------------------------------------------------------------------------
    def _config(self) -> dict:
        c = super()._config()
        for k in ("sg", "window", "ns_exponent", "shared_negatives", "hs"):
            c.pop(k)
        return {**c, "bucket": self.bucket, "word_ngrams": self.word_ngrams}

    def _dims(self) -> dict:
        v, d = len(self.index_to_key), self.vector_size_
        return {"w_in": (v + self.bucket, d), "w_out": (v, d)}
