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

n-gram dropout (the paper's section 2.2 and its code's ``dropoutK``, default 2): for every target, ``K``
distinct token positions of its sentence are drawn uniformly (fewer when the sentence is short: at most
``n - 2`` of ``n`` positions), and the bigrams that touch a drawn position leave that target's context
(unigrams stay). So each target ``t`` has its own dropped set ``D_t`` and
``h_t = (Σ_{f ∈ R(S)} v_f - v_{w_t} - Σ_{f ∈ D_t} v_f) / (|R(S)| - 1 - |D_t|)``; the gradient of a feature
subtracts ``g_t / denom_t`` for every target that dropped it, so the batch stays vectorised.
Difference from the reference code: there the target's own position is replaced by the end-of-sentence
token before the bigrams are formed; here bigrams that contain the target stay in its context.
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


def dropped_positions(lengths: torch.Tensor, k: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """``(T, k)`` token positions to drop per context (``-1`` where none), one row per sentence length.

    Row ``i`` is a uniform random subset of ``0 .. n_i - 1`` of size ``min(k, max(n_i - 2, 0))`` (the
    reference code draws positions until ``k`` distinct ones are found or only 2 would remain). Drawn by
    Floyd's algorithm, vectorised over rows: for ``j = n - m .. n - 1`` pick ``t`` uniform in ``0 .. j``,
    and take ``j`` instead when ``t`` was already chosen.
    """
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    m = (lengths - 2).clamp(min=0, max=k)
    out = torch.full((len(lengths), k), -1, dtype=torch.long)
    for j in range(k):
        active = j < m
        upper = lengths - m + j
        t = torch.minimum((torch.rand(len(lengths), generator=gen) * (upper + 1)).long(), upper)
        t = torch.where((out == t[:, None]).any(1), upper, t)
        out[:, j] = torch.where(active, t, torch.full_like(t, -1))
    return out


def dropped_bigrams(positions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``(T, 2k)`` indices ``b`` of the bigrams ``(b, b+1)`` touching a dropped position (``-1`` padding, no
    repeats): bigram ``p - 1`` and bigram ``p`` for each position ``p``, where they exist."""
    lengths = torch.as_tensor(lengths, dtype=torch.long)[:, None]
    cand = torch.cat([positions - 1, positions], 1)
    valid = (positions >= 0).repeat(1, 2) & (cand >= 0) & (cand <= lengths - 2)
    cand = torch.where(valid, cand, torch.full_like(cand, -1)).sort(1).values
    repeat = torch.zeros_like(cand, dtype=torch.bool)
    repeat[:, 1:] = (cand[:, 1:] == cand[:, :-1]) & (cand[:, 1:] >= 0)
    return cand.masked_fill(repeat, -1)


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
        dropout_k: int = 2,
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
        self.dropout_k = check_positive_int("dropout_k", dropout_k, minimum=0)

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
        n_feat, s_base, s_len = [], [], []
        for si, ids in enumerate(batch):
            f = self.features(ids)
            base = len(feats)
            s_base.append(base)
            s_len.append(len(ids))
            if len(f) < 2:
                n_feat.append(max(len(f), 1))
                continue
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
        denom = torch.tensor(n_feat, dtype=torch.float32)[tsent_t].sub(1.0)
        h = sums[tsent_t] - vec[tpos_t]
        drop_row = drop_pos = None
        if self.dropout_k and self.word_ngrams == 2:
            lens = torch.tensor(s_len)[tsent_t]
            big = dropped_bigrams(dropped_positions(lens, self.dropout_k, gen), lens)
            drop_row, col = torch.nonzero(big >= 0, as_tuple=True)
            # feature position of bigram b of sentence s: base(s) + len(s) + b
            drop_pos = torch.tensor(s_base)[tsent_t][drop_row] + lens[drop_row] + big[drop_row, col]
            h.index_put_((drop_row,), -vec[drop_pos], accumulate=True)
            denom = denom - torch.zeros(len(tpos_t)).index_put_((drop_row,), torch.ones(len(drop_row)), True)
        denom = denom.unsqueeze(1)
        h = h / denom
        targets = feats_t[tpos_t]
        neg = draw_negatives(cum, (len(targets), self.negative), gen)
        grad, loss = sgns_step(None, self.w_out, None, targets, neg, lr, h=h, with_loss=True)
        g = grad / denom  # per target, per context feature
        per_sent = torch.zeros(len(batch), d).index_put_((tsent_t,), g, accumulate=True)
        feat_grad = per_sent[fsent_t]
        feat_grad.index_put_((tpos_t,), -g, accumulate=True)  # a target's own unigram is not in its context
        if drop_row is not None:
            feat_grad.index_put_((drop_pos,), -g[drop_row], accumulate=True)  # nor its dropped bigrams
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
        return {**c, "bucket": self.bucket, "word_ngrams": self.word_ngrams, "dropout_k": self.dropout_k}

    def _dims(self) -> dict:
        v, d = len(self.index_to_key), self.vector_size_
        return {"w_in": (v + self.bucket, d), "w_out": (v, d)}
