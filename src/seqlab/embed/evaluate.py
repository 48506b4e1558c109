"""Evaluation shared by every word embedder: word similarity (Spearman) and analogies (3CosAdd).

* **Word similarity**: Spearman's rank correlation between the cosine similarity of each pair's vectors
  and the human score, over the pairs whose two words are in the vocabulary (``pairs_used`` reports how
  many). With ``stem=True`` both words are first reduced by gensim's Porter stemmer -- needed for the
  stemmed ``head500`` corpus.
* **Analogies** ``a : b :: c : ?`` by 3CosAdd ("Efficient Estimation of Word Representations in Vector
  Space", arXiv 1301.3781, section 4.1): the answer is the word ``w`` not in ``{a, b, c}`` maximising
  ``cos(w, b - a + c)`` on unit-normalised vectors; accuracy over the questions whose four words are in
  the vocabulary.

A model only needs ``key_to_index`` (word -> row) and ``vectors`` (``(V, d)`` tensor).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def rank(values: Sequence[float]) -> list[float]:
    """Ranks 1..n with ties given their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        avg = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = avg
        i = j + 1
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    n = len(x)
    if n != len(y) or n < 2:
        raise ValueError(f"pearson needs two sequences of equal length >= 2, got {len(x)} and {len(y)}")
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return float("nan")
    return sxy / math.sqrt(sxx * syy)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson correlation of the (tie-averaged) ranks."""
    return pearson(rank(list(x)), rank(list(y)))


def _stemmer():
    try:
        from gensim.parsing.porter import PorterStemmer
    except ImportError as err:
        raise ImportError(
            "stem=True uses gensim's Porter stemmer; install gensim (seqlab's [embed] extra)"
        ) from err
    return PorterStemmer()


def _unit(vectors: torch.Tensor) -> torch.Tensor:
    v = vectors.double()
    return v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)


def word_similarity(model, pairs, stem: bool = False) -> dict:
    """Spearman of cosine vs human scores over in-vocabulary pairs.

    ``pairs``: items with ``word1, word2, score`` (e.g. :func:`seqlab.embed.data.wordsim353`) or tuples.
    Returns ``{"spearman", "pearson", "pairs_used", "pairs_total"}``; Spearman is NaN with < 3 pairs used.
    """
    index, vecs = model.key_to_index, _unit(model.vectors)
    st = _stemmer() if stem else None
    cos, human = [], []
    total = 0
    for p in pairs:
        a, b, s = (p.word1, p.word2, p.score) if hasattr(p, "word1") else p
        total += 1
        a, b = a.lower(), b.lower()
        if st is not None:
            a, b = st.stem(a), st.stem(b)
        if a in index and b in index:
            cos.append(float(vecs[index[a]] @ vecs[index[b]]))
            human.append(float(s))
    rho = spearman(cos, human) if len(cos) >= 3 else float("nan")
    r = pearson(cos, human) if len(cos) >= 3 else float("nan")
    return {"spearman": rho, "pearson": r, "pairs_used": len(cos), "pairs_total": total}


def analogy_accuracy(model, questions, stem: bool = False, restrict_vocab: int | None = 300000) -> dict:
    """3CosAdd accuracy over questions ``(a, b, c, d)`` whose words are distinct and in the vocabulary.

    ``questions``: a list of 4-tuples, or a dict of such lists by section (as
    :func:`seqlab.embed.data.analogies` returns). Candidates are the first ``restrict_vocab`` words
    (the most frequent, as gensim's evaluation restricts them). Returns ``{"accuracy", "correct", "used",
    "total"}`` (accuracy NaN when no question is usable).
    """
    if isinstance(questions, dict):
        questions = [q for qs in questions.values() for q in qs]
    index = model.key_to_index
    n_cand = len(index) if restrict_vocab is None else min(restrict_vocab, len(index))
    st = _stemmer() if stem else None
    rows = []
    for q in questions:
        q = [w.lower() for w in q]
        if st is not None:
            q = [st.stem(w) for w in q]
        if len(set(q)) == 4 and all(w in index and index[w] < n_cand for w in q):
            rows.append([index[w] for w in q])
    if not rows:
        return {"accuracy": float("nan"), "correct": 0, "used": 0, "total": len(questions)}
    ids = torch.tensor(rows)
    unit = _unit(model.vectors[:n_cand]).float()
    correct = 0
    for start in range(0, len(ids), 2048):
        q = ids[start : start + 2048]
        target = unit[q[:, 1]] - unit[q[:, 0]] + unit[q[:, 2]]
        target = target / target.norm(dim=1, keepdim=True).clamp_min(1e-12)
        sims = target @ unit.T
        sims.scatter_(1, q[:, :3], float("-inf"))
        correct += int((sims.argmax(1) == q[:, 3]).sum())
    return {"accuracy": correct / len(rows), "correct": correct, "used": len(rows), "total": len(questions)}
