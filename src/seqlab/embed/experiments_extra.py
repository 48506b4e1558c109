"""Experiment cells of the extra embedding claims (``seqlab.papers.claims_embed_extra``).

* ``embed.fasttext_oov`` -- "Enriching Word Vectors with Subword Information" (1607.04606): vectors for
  out-of-vocabulary words. Two fastText models are trained on the first ``tokens`` tokens of gensim's
  ``head500`` corpus with the same hyperparameters and seed: model *A* on the corpus with every token of
  ``held`` held-out words deleted, model *B* on the full corpus. For each held-out word ``h`` the cosine
  similarities of A's subword-composed vector of ``h`` (mean of its hashed n-gram vectors) to ``refs``
  reference words are ranked against those of B's in-vocabulary vector of ``h`` to the same words
  (Spearman); the figure is the mean over held-out words. Baselines in the same cell: a random vector in
  A's space in place of the composed one (chance, ~0); control: the same agreement for ``held`` words that
  are in both vocabularies (how far two independently trained models agree at all).
* ``embed.phrase_recovery`` -- "Distributed Representations of Words and Phrases and their
  Compositionality" (1310.4546, section 4): a generated corpus of i.i.d. Zipf(1) words over ``vocab``
  types, into which ``pairs`` collocations ``a b`` of mid-frequency words (ranks 100-1000) are planted
  ``plant`` times each at random positions. The bigrams are ranked by the paper's score
  ``(count(ab) - delta) / (count(a) count(b))`` (:func:`seqlab.embed.vocab.phrase_scores`) and by raw
  bigram count (the frequency-only baseline); the figure is the precision of the top ``pairs`` bigrams
  (fraction that are planted). Control: the fraction of planted pairs whose count reaches ``min_count``
  (they are recoverable at all).
* ``embed.sent2vec_polarity`` -- "Unsupervised Learning of Sentence Embeddings using Compositional n-Gram
  Features" (1703.02507): Sent2Vec (unigrams + bigrams) and CBOW word2vec, same dimension and epochs, both
  trained unsupervised on gensim's Lee background news plus the 200 movie-review sentences of
  ``pang_lee_polarity.cor`` (labels unused); each sentence is embedded (Sent2Vec's sentence vector; the
  mean of CBOW word vectors) and a logistic probe is scored by 5-fold cross-validated accuracy on the
  labels. Same cell: averaged random word vectors (trivial), and a bag-of-words probe (control: the labels
  are learnable from 200 sentences at all).
"""

from __future__ import annotations

import torch

from seqlab.experiments.cell import experiment


def _profile(model, vec: torch.Tensor, refs: list[str]) -> list[float]:
    """Cosine similarity of ``vec`` to each reference word's vector in ``model``."""
    r = torch.stack([model.get_vector(w) for w in refs])
    r = r / r.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (r @ (vec / vec.norm().clamp_min(1e-12))).tolist()


@experiment("embed.fasttext_oov")
def fasttext_oov(params: dict, seed: int) -> dict:
    """Rank agreement of held-out words' subword vectors with their in-vocabulary vectors (see module doc)."""
    from collections import Counter

    from seqlab.embed import data
    from seqlab.embed.evaluate import spearman
    from seqlab.embed.fasttext import FastText

    p = dict(tokens=120_000, held=40, refs=300, dim=50, epochs=3, bucket=200_000, min_len=6)
    p.update({k: params[k] for k in p if k in params})
    toks: list[str] = []
    for s in data.head500(max_len=1000):
        toks.extend(s)
        if len(toks) >= p["tokens"]:
            break
    toks = toks[: p["tokens"]]
    counts = Counter(toks)
    gen = torch.Generator().manual_seed(seed)
    # candidates: words with enough occurrences to be learned by B and long enough to carry n-grams
    cand = sorted(w for w, c in counts.items() if 20 <= c <= 400 and len(w) >= p["min_len"])
    if len(cand) < 2 * p["held"]:
        raise ValueError(f"only {len(cand)} candidate words; need {2 * p['held']} (lower held or min_len)")
    perm = torch.randperm(len(cand), generator=gen).tolist()
    held = [cand[i] for i in perm[: p["held"]]]
    kept = [cand[i] for i in perm[p["held"] : 2 * p["held"]]]  # control words, in both vocabularies
    excluded = set(held) | set(kept)
    refs = [w for w, _ in counts.most_common() if len(w) >= 3 and w not in excluded][: p["refs"]]
    hs = set(held)
    sents = [toks[i : i + 1000] for i in range(0, len(toks), 1000)]
    sents_a = [[w for w in s if w not in hs] for s in sents]
    hp = dict(vector_size=p["dim"], window=5, negative=5, min_count=5, epochs=p["epochs"], sample=1e-3)
    a = FastText(bucket=p["bucket"], seed=seed, threads=1, **hp).fit(sents_a)
    b = FastText(bucket=p["bucket"], seed=seed, threads=1, **hp).fit(sents)
    assert not any(h in a for h in held)
    oov, rnd, ctl = [], [], []
    for h in held:
        target = _profile(b, b.get_vector(h), refs)
        oov.append(spearman(_profile(a, a.get_vector(h), refs), target))
        noise = torch.randn(p["dim"], generator=gen)
        rnd.append(spearman(_profile(a, noise, refs), target))
    for w in kept:
        ctl.append(spearman(_profile(a, a.get_vector(w), refs), _profile(b, b.get_vector(w), refs)))
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return {
        "oov_agreement": mean(oov),
        "random_agreement": mean(rnd),
        "invocab_agreement": mean(ctl),
        "held": len(held),
        "refs": len(refs),
    }


@experiment("embed.phrase_recovery")
def phrase_recovery(params: dict, seed: int) -> dict:
    """Precision of the top bigrams by phrase score vs by raw count on a planted corpus (see module doc)."""
    from collections import Counter

    from seqlab.embed.vocab import phrase_scores

    p = dict(vocab=5000, tokens=200_000, pairs=30, plant=25, min_count=5, sent_len=20)
    p.update({k: params[k] for k in p if k in params})
    gen = torch.Generator().manual_seed(seed)
    zipf = 1.0 / torch.arange(1, p["vocab"] + 1, dtype=torch.float64)
    ids = torch.multinomial(zipf / zipf.sum(), p["tokens"], replacement=True, generator=gen).tolist()
    words = [f"w{i}" for i in ids]
    mid = torch.randperm(900, generator=gen)[: 2 * p["pairs"]] + 100
    planted = [(f"w{int(mid[2 * k])}", f"w{int(mid[2 * k + 1])}") for k in range(p["pairs"])]
    spots = torch.randperm(p["tokens"], generator=gen)[: p["pairs"] * p["plant"]].sort(descending=True).values
    for j, pos in enumerate(spots.tolist()):  # insert from the back so earlier positions stay valid
        words[pos:pos] = list(planted[j % p["pairs"]])
    sents = [words[i : i + p["sent_len"]] for i in range(0, len(words), p["sent_len"])]
    truth = set(planted)
    scores = phrase_scores(sents, min_count=p["min_count"])
    counts: Counter = Counter()
    for s in sents:
        counts.update(zip(s, s[1:]))
    k = p["pairs"]
    top_score = sorted(scores, key=lambda b: (-scores[b], b))[:k]
    top_count = sorted(counts, key=lambda b: (-counts[b], b))[:k]
    return {
        "score_precision": sum(b in truth for b in top_score) / k,
        "count_precision": sum(b in truth for b in top_count) / k,
        "recoverable": sum(counts[b] >= p["min_count"] for b in planted) / k,
    }


def _cv_accuracy(x: torch.Tensor, y: torch.Tensor, folds: int, gen: torch.Generator) -> float:
    """Mean test accuracy of :func:`linear_probe` over ``folds`` seeded folds."""
    from seqlab.embed.experiments_words import linear_probe

    perm = torch.randperm(len(y), generator=gen)
    parts = perm.chunk(folds)
    accs = []
    for k, test in enumerate(parts):
        train = torch.cat([q for j, q in enumerate(parts) if j != k])
        accs.append(linear_probe(x[train], y[train], x[test], y[test], seed=k))
    return sum(accs) / len(accs)


def _embed_or_zero(model, sents: list[list[str]], dim: int) -> torch.Tensor:
    rows = []
    for s in sents:
        try:
            rows.append(model.encode([s])[0])
        except KeyError:  # no known token: the zero vector
            rows.append(torch.zeros(dim))
    return torch.stack(rows).float()


@experiment("embed.sent2vec_polarity")
def sent2vec_polarity(params: dict, seed: int) -> dict:
    """5-fold probe accuracy of Sent2Vec vs averaged CBOW vectors on 200 polarity sentences (module doc)."""
    import re

    from seqlab.embed import data
    from seqlab.embed.sent2vec import Sent2Vec
    from seqlab.embed.word2vec import Word2Vec

    p = dict(dim=50, epochs=5, min_count=2, folds=5)
    p.update({k: params[k] for k in p if k in params})
    path = data.data_path("pang_lee_polarity.cor")
    texts, labels = [], []
    with open(path, encoding="latin-1") as fh:
        for line in fh:
            tag, _, text = line.strip().partition(" ")
            if tag not in ("__label__pos", "__label__neg"):
                raise ValueError(f"pang_lee_polarity.cor: unexpected label {tag!r}")
            texts.append(re.sub(r"[^\w'\- ]+", " ", text.lower()).split())
            labels.append(int(tag == "__label__pos"))
    y = torch.tensor(labels)
    corpus = [s for s in data.lee_background()] + [t for t in texts if t]
    s2v = Sent2Vec(vector_size=p["dim"], epochs=p["epochs"], min_count=p["min_count"], seed=seed, threads=1)
    s2v.fit(corpus)
    cbow = Word2Vec(
        sg=False, vector_size=p["dim"], epochs=p["epochs"], min_count=p["min_count"], seed=seed, threads=1
    ).fit(corpus)
    gen = torch.Generator().manual_seed(seed)
    vocab = sorted({w for t in texts for w in t})
    index = {w: i for i, w in enumerate(vocab)}
    bow = torch.zeros(len(texts), len(vocab))
    for i, t in enumerate(texts):
        for w in t:
            bow[i, index[w]] = 1.0
    rand_vecs = torch.randn(len(vocab), p["dim"], generator=gen)
    zero = torch.zeros(p["dim"])
    rand = torch.stack([rand_vecs[[index[w] for w in t]].mean(0) if t else zero for t in texts])
    out = {}
    for name, x in (
        ("sent2vec", _embed_or_zero(s2v, texts, p["dim"])),
        ("cbow_mean", _embed_or_zero(cbow, texts, p["dim"])),
        ("random_mean", rand),
        ("bow", bow),
    ):
        out[name] = _cv_accuracy(x, y, p["folds"], torch.Generator().manual_seed(seed))
    return out
