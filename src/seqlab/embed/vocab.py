"""Vocabulary for word embeddings: counts, ``min_count``, frequent-word subsampling, negative-sampling table.

From "Distributed Representations of Words and Phrases and their Compositionality" (Mikolov et al.,
arXiv 1310.4546) as word2vec's C code and gensim implement it:

* **subsampling** of frequent words: with ``f(w) = count(w) / total`` and threshold ``t`` (``sample``),
  a word occurrence is kept with probability ``min(1, (sqrt(f/t) + 1) * t / f)`` (the C code's form;
  the paper writes the discard probability ``1 - sqrt(t / f)``, which the C form approximates for f >> t);
* **negative sampling** draws words from the unigram distribution raised to ``3/4``:
  ``P(w) = count(w)^0.75 / sum_v count(v)^0.75``, here through a cumulative table and a binary search;
* **phrase detection**: a bigram ``a b`` becomes one token ``a_b`` when
  ``(count(ab) - delta) / (count(a) * count(b)) * total > threshold`` (the paper's score times the
  corpus size, as word2phrase and gensim scale it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import torch


def check_sentence(sentence, index: int) -> list[str]:
    """A sentence must be a list/tuple of str tokens (a bare string would be split into characters)."""
    if isinstance(sentence, str) or not isinstance(sentence, (list, tuple)):
        raise TypeError(
            f"sentence {index}: expected a list of str tokens, got {type(sentence).__name__} "
            f"(split text into tokens first, e.g. text.split())"
        )
    for tok in sentence:
        if not isinstance(tok, str):
            raise TypeError(f"sentence {index}: tokens must be str, got {type(tok).__name__} {tok!r}")
    return list(sentence)


def count_words(sentences: Iterable) -> tuple[Counter, int, int]:
    """(word counts, raw word total, number of sentences) in one streaming pass."""
    counts: Counter = Counter()
    total = n = 0
    for i, s in enumerate(sentences):
        s = check_sentence(s, i)
        counts.update(s)
        total += len(s)
        n += 1
    if total == 0:
        raise ValueError("empty corpus: the sentences hold no tokens (expected an iterable of token lists)")
    return counts, total, n


class Vocab:
    """Words kept by ``min_count`` (sorted by count, descending; ties by first appearance), with counts."""

    def __init__(self, counts: Counter, min_count: int = 5, max_size: int | None = None):
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
        kept = [(w, c) for w, c in counts.items() if c >= min_count]
        if not kept:
            top = max(counts.values()) if counts else 0
            raise ValueError(
                f"min_count={min_count} leaves no vocabulary: the most frequent word occurs {top} times "
                f"(lower min_count or give a larger corpus)"
            )
        kept.sort(key=lambda wc: -wc[1])  # stable: ties keep first-seen order
        if max_size is not None:
            kept = kept[:max_size]
        self.words: list[str] = [w for w, _ in kept]
        self.counts = torch.tensor([c for _, c in kept], dtype=torch.float64)
        self.index: dict[str, int] = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def encode(self, sentence: list[str]) -> list[int]:
        """Ids of the in-vocabulary tokens (out-of-vocabulary tokens dropped, as word2vec does)."""
        get = self.index.get
        return [i for i in map(get, sentence) if i is not None]

    def keep_probability(self, sample: float) -> torch.Tensor:
        """Per-word probability of keeping an occurrence under subsampling threshold ``sample``."""
        return keep_probability(self.counts, sample)

    def negative_table(self, power: float = 0.75) -> torch.Tensor:
        return negative_table(self.counts, power)


def keep_probability(counts: torch.Tensor, sample: float) -> torch.Tensor:
    """``min(1, (sqrt(f/t) + 1) t / f)`` with ``f = count/sum(count)``; all ones when ``sample <= 0``."""
    if not sample > 0:
        return torch.ones_like(counts, dtype=torch.float64)
    f = counts.double() / counts.double().sum()
    return ((torch.sqrt(f / sample) + 1.0) * sample / f).clamp(max=1.0)


def negative_table(counts: torch.Tensor, power: float = 0.75) -> torch.Tensor:
    """Cumulative distribution of ``count^power`` (last entry 1), for :func:`draw_negatives`."""
    p = counts.double() ** power
    cum = torch.cumsum(p / p.sum(), 0)
    cum[-1] = 1.0
    return cum


def draw_negatives(cum: torch.Tensor, shape, generator: torch.Generator | None = None) -> torch.Tensor:
    """Word ids drawn i.i.d. from the distribution whose cumulative table is ``cum``."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return torch.searchsorted(cum, u, right=True).clamp_(max=len(cum) - 1)


def phrase_scores(sentences: Iterable, min_count: int = 5, delta: float | None = None) -> dict:
    """Score of every bigram: ``(count(ab) - delta) / (count(a) count(b)) * total`` (1310.4546, eq. 6).

    ``delta`` (default ``min_count``) discounts rare bigrams; bigrams or words below ``min_count``
    get no score.
    """
    delta = float(min_count if delta is None else delta)
    uni: Counter = Counter()
    bi: Counter = Counter()
    total = 0
    for i, s in enumerate(sentences):
        s = check_sentence(s, i)
        uni.update(s)
        bi.update(zip(s, s[1:]))
        total += len(s)
    if total == 0:
        raise ValueError("empty corpus: no tokens to detect phrases in")
    out = {}
    for (a, b), c in bi.items():
        if c >= min_count and uni[a] >= min_count and uni[b] >= min_count:
            out[(a, b)] = (c - delta) / (uni[a] * uni[b]) * total
    return out


class Phrases:
    """Phrase detection (1310.4546, section 4): join bigrams whose score exceeds ``threshold`` into ``a_b``.

    ``fit`` counts once; ``transform(sentence)`` joins greedily left to right (a joined pair is not
    reused), like one pass of word2phrase. Run it twice for longer phrases.
    """

    def __init__(self, min_count: int = 5, threshold: float = 10.0, delta: float | None = None, joiner="_"):
        if not threshold > 0 or not math.isfinite(threshold):
            raise ValueError(f"threshold must be a positive finite number, got {threshold!r}")
        self.min_count, self.threshold, self.delta, self.joiner = min_count, float(threshold), delta, joiner
        self.scores: dict = {}

    def fit(self, sentences: Iterable) -> Phrases:
        self.scores = phrase_scores(sentences, self.min_count, self.delta)
        self.phrases = {k: v for k, v in self.scores.items() if v > self.threshold}
        return self

    def transform(self, sentence: list[str]) -> list[str]:
        out, i = [], 0
        while i < len(sentence):
            if i + 1 < len(sentence) and (sentence[i], sentence[i + 1]) in self.phrases:
                out.append(sentence[i] + self.joiner + sentence[i + 1])
                i += 2
            else:
                out.append(sentence[i])
                i += 1
        return out

    def __call__(self, sentences: Iterable) -> Iterable:
        return _Mapped(sentences, self.transform)


class _Mapped:
    """A re-iterable map over a re-iterable corpus."""

    def __init__(self, sentences, fn):
        self.sentences, self.fn = sentences, fn

    def __iter__(self):
        return (self.fn(s) for s in self.sentences)
