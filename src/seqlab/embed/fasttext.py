"""fastText: word vectors enriched with character n-gram (subword) vectors, and vectors for unseen words.

Paper: "Enriching Word Vectors with Subword Information" (Bojanowski, Grave, Joulin, Mikolov; arXiv
1607.04606). A word ``w`` is written ``<w>`` and represented by the set ``G(w)`` of its character
n-grams, ``minn <= n <= maxn`` (default 3..6), plus the word itself. Each n-gram is hashed into one of
``bucket`` rows with the 32-bit FNV-1a hash of its UTF-8 bytes (bytes read as *signed* chars, as the
reference implementation does), and the word's input vector is the mean

    h(w) = (v_w + Σ_{g ∈ G(w)} z_g) / (1 + |G(w)|)

trained with the skip-gram (or CBOW) negative-sampling objective of :mod:`seqlab.embed.word2vec`. The
update follows the reference implementation (fastText's ``Model::update``, which gensim's
``fasttext_inner`` copies), *not* the exact gradient of the mean: with ``e = lr * d objective / d h``,
every input row -- ``v_w`` and each ``z_g`` (once per occurrence of ``g`` in ``G(w)``) -- gets the whole
``e``, undivided. (The exact gradient ``e / (1 + |G(w)|)`` per row moves ``h(w)`` ``1 + |G(w)|`` times
less per step -- 10-25x for most words -- which leaves one-epoch vectors near their hashed-n-gram
initialisation: WordSim353 Spearman -0.096 where gensim scores +0.107 on head500.) A word never seen in
training gets the mean of its n-gram vectors; word and n-gram rows start uniform in ``[-1/d, 1/d]``
as in both references.
"""

from __future__ import annotations

import torch

from seqlab.embed.word2vec import Word2Vec, check_positive_int
from seqlab.registry import Paper, register

SUBWORD = Paper("Enriching Word Vectors with Subword Information", "1607.04606")


def fnv1a_32(data: bytes) -> int:
    """fastText's FNV-1a hash: ``h = (h ^ int8(byte)) * 16777619 mod 2^32`` from ``h = 2166136261``."""
    h = 2166136261
    for b in data:
        h ^= (b - 256 if b >= 128 else b) & 0xFFFFFFFF  # the byte as a signed char, widened to 32 bits
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def char_ngrams(word: str, minn: int = 3, maxn: int = 6) -> list[str]:
    """The character n-grams of ``<word>``, ``minn <= n <= maxn``, in order of start then length."""
    w = f"<{word}>"
    return [w[i : i + n] for i in range(len(w)) for n in range(minn, maxn + 1) if i + n <= len(w)]


def ngram_buckets(word: str, minn: int, maxn: int, bucket: int) -> list[int]:
    """Bucket ids ``fnv1a_32(utf8(g)) % bucket`` of the n-grams of ``word``."""
    return [fnv1a_32(g.encode("utf-8")) % bucket for g in char_ngrams(word, minn, maxn)]


@register("embedder", "fasttext", implements=SUBWORD, used_by=[SUBWORD.title])
class FastText(Word2Vec):
    """fastText word vectors: word2vec over words + hashed character n-grams; vectors for unseen words."""

    name = "fasttext"

    def __init__(self, minn: int = 3, maxn: int = 6, bucket: int = 2_000_000, **kw):
        super().__init__(**kw)
        self.minn = check_positive_int("minn", minn)
        self.maxn = check_positive_int("maxn", maxn)
        if self.maxn < self.minn:
            raise ValueError(f"maxn ({maxn}) must be >= minn ({minn})")
        self.bucket = check_positive_int("bucket", bucket)
        self._cache = None

    # -- subword tables ----------------------------------------------------------------------------
    def _build_subwords(self) -> None:
        """Every vocabulary word's n-gram rows, flat: ``sub_flat[sub_ptr[w]:sub_ptr[w + 1]]``."""
        rows = [ngram_buckets(w, self.minn, self.maxn, self.bucket) for w in self.index_to_key]
        self.sub_len = torch.tensor([len(r) for r in rows], dtype=torch.long)
        self.sub_ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(self.sub_len, 0)])
        self.sub_flat = torch.tensor([i for r in rows for i in r], dtype=torch.long)
        self.sub_norm = 1.0 / (1.0 + self.sub_len.float().unsqueeze(1))

    def _subword_index(self, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(position in ``words`` of each n-gram occurrence, its bucket row) for the given word ids."""
        lens = self.sub_len[words]
        row = torch.repeat_interleave(torch.arange(len(words)), lens)
        offset = torch.arange(len(row)) - torch.repeat_interleave(torch.cumsum(lens, 0) - lens, lens)
        return row, self.sub_flat[torch.repeat_interleave(self.sub_ptr[words], lens) + offset]

    def _init_weights(self, gen: torch.Generator) -> None:
        v, d = len(self.vocab), self.vector_size_
        self.w_in = (torch.rand(v, d, generator=gen) * 2 - 1) / d
        self.w_out = torch.zeros(v, d)
        self.ngrams = (torch.rand(self.bucket, d, generator=gen) * 2 - 1) / d
        self._build_subwords()
        self._cache = None

    def _input_vectors(self, words: torch.Tensor) -> torch.Tensor:
        row, ids = self._subword_index(words)
        total = self.w_in[words].index_put_((row,), self.ngrams[ids], accumulate=True)
        return total * self.sub_norm[words]

    def _add_to_inputs(self, words: torch.Tensor, grad: torch.Tensor) -> None:
        """``v_w += e`` and ``z_g += e`` for every n-gram occurrence of each word: the whole step, undivided
        (fastText's ``Model::update``; the mean's exact gradient would divide it by ``1 + |G(w)|``)."""
        self.w_in.index_put_((words,), grad, accumulate=True)
        row, ids = self._subword_index(words)
        self.ngrams.index_put_((ids,), grad[row], accumulate=True)

    def fit(self, sentences) -> FastText:
        self._cache = None
        super().fit(sentences)
        if not torch.isfinite(self.ngrams).all():
            raise ValueError("FastText training diverged: n-gram vectors hold NaN or inf (lower alpha)")
        return self

    # -- lookup ------------------------------------------------------------------------------------
    def _vectors(self) -> torch.Tensor:
        if self._cache is None:
            out = []
            for s in range(0, len(self.index_to_key), 4096):
                out.append(self._input_vectors(torch.arange(s, min(s + 4096, len(self.index_to_key)))))
            self._cache = torch.cat(out)
        return self._cache

    def get_vector(self, word: str) -> torch.Tensor:
        """In-vocabulary: the composed vector; unseen: the mean of its n-gram vectors (KeyError if none)."""
        self._require_fit()
        if not isinstance(word, str):
            raise TypeError(f"expected a word (str), got {type(word).__name__}")
        i = self.key_to_index.get(word)
        if i is not None:
            return self.vectors[i]
        if not word:
            raise KeyError("the empty word has no vector (no character n-grams)")
        ids = torch.tensor(ngram_buckets(word, self.minn, self.maxn, self.bucket), dtype=torch.long)
        if len(ids) == 0:
            raise KeyError(f"word {word!r} is unseen and has no n-grams of length {self.minn}..{self.maxn}")
        return self.ngrams[ids].mean(0)

    __getitem__ = get_vector

    def __contains__(self, word: str) -> bool:
        """True for in-vocabulary words (unseen words still get a vector from :meth:`get_vector`)."""
        return super().__contains__(word)

    def _encode_tokens(self, tokens: list[str], i: int) -> torch.Tensor:
        vecs = [self.get_vector(t) for t in tokens if t]
        if not vecs:
            raise KeyError(f"item {i}: an empty token list has no vector")
        return torch.stack(vecs).mean(0)

    # -- state -------------------------------------------------------------------------------------
    def _config(self) -> dict:
        return {**super()._config(), "minn": self.minn, "maxn": self.maxn, "bucket": self.bucket}

    def _tensors(self) -> dict:
        return {**super()._tensors(), "ngrams": self.ngrams}

    def _dims(self) -> dict:
        return {**super()._dims(), "ngrams": (self.bucket, self.vector_size_)}

    def _restore(self, config, tensors) -> None:
        super()._restore(config, tensors)
        self.ngrams = tensors["ngrams"].clone()
        self._build_subwords()
        self._cache = None
