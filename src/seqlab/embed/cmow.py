"""CMOW and the hybrid CBOW-CMOW: order-aware text embeddings from products of word matrices.

Paper: "CBOW Is Not All You Need: Combining CBOW with the Compositional Matrix Space Model" (Mai, Galke,
Scherp; arXiv 1902.06423). Each word ``w`` has a ``k x k`` matrix ``X_w``; a sequence ``w_1 .. w_n`` is
embedded as the flattened product *in order*

    CMOW(w_1..w_n) = vec(X_{w_1} X_{w_2} ... X_{w_n})        (not commutative: order matters)

while CBOW embeds it as the mean of word vectors (commutative). The hybrid concatenates the two,
``[CBOW ; CMOW]``, trained jointly. Matrices start at the identity plus Gaussian noise
(``X = I + N(0, init_std^2)``, the paper's initialisation, so long products neither vanish nor explode).

Training (the paper's word2vec-style objective): windows of ``2 * window + 1`` consecutive words; one
position is the target -- drawn at random in the window (``random_target=True``, the paper's change to
CBOW's centre word, which would make the product's two halves symmetric) or the centre -- and the other
``2 * window`` words, in order, are encoded and trained to predict it with negative sampling
(``negative`` noise words from ``count^0.75``), by Adam on mini-batches of windows.

``mode``: "cmow", "hybrid" (registered), or "cbow" (the same trainer with the mean of vectors: the
commutative baseline trained identically). ``vector_size`` is the total dimension: ``k^2`` for CMOW,
``d_cbow + k^2`` with ``d_cbow = k^2 = vector_size / 2`` for the hybrid.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

import torch

from seqlab.embed.vocab import Vocab, count_words, draw_negatives
from seqlab.embed.word2vec import WordVectors, _check_finite, check_positive_int, torch_threads
from seqlab.registry import Paper, register

CMOW_PAPER = Paper(
    "CBOW Is Not All You Need: Combining CBOW with the Compositional Matrix Space Model", "1902.06423"
)
MODES = ("cmow", "hybrid", "cbow")


def ordered_product(mats: torch.Tensor) -> torch.Tensor:
    """``mats``: ``(B, L, k, k)`` -> ``(B, k, k)`` product ``M_1 M_2 ... M_L`` (left to right)."""
    out = mats[:, 0]
    for i in range(1, mats.shape[1]):
        out = torch.bmm(out, mats[:, i])
    return out


class MatrixEmbedder(WordVectors):
    """Shared CBOW / CMOW / hybrid trainer and encoder (see the module docstring)."""

    name = "matrix"

    def __init__(
        self,
        mode: str = "cmow",
        vector_size: int = 400,
        window: int = 5,
        negative: int = 5,
        min_count: int = 5,
        epochs: int = 5,
        lr: float = 1e-3,
        batch_size: int = 256,
        init_std: float = 0.1,
        random_target: bool = True,
        threads: int = 1,
        seed: int = 0,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.vector_size_ = check_positive_int("vector_size", vector_size)
        self.cbow_dim, self.k = self._split(self.vector_size_)
        self.window = check_positive_int("window", window)
        self.negative = check_positive_int("negative", negative)
        self.min_count = check_positive_int("min_count", min_count)
        self.epochs = check_positive_int("epochs", epochs)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.threads = check_positive_int("threads", threads)
        if not lr > 0 or not init_std >= 0:
            raise ValueError(f"lr must be > 0 and init_std >= 0, got {lr!r}, {init_std!r}")
        self.lr, self.init_std = float(lr), float(init_std)
        self.random_target, self.seed = bool(random_target), int(seed)
        self.key_to_index = None
        self.index_to_key = None
        self.stats: dict = {}

    def _split(self, dim: int) -> tuple[int, int]:
        """(CBOW dimension, matrix side k) for the mode, with a clear error when ``k^2`` cannot fit."""
        if self.mode == "cbow":
            return dim, 0
        part = dim if self.mode == "cmow" else dim // 2
        k = math.isqrt(part)
        if k * k != part or (self.mode == "hybrid" and dim % 2):
            need = "a perfect square" if self.mode == "cmow" else "twice a perfect square"
            raise ValueError(f"{self.mode}: vector_size must be {need} (k x k matrices), got {dim}")
        return (0 if self.mode == "cmow" else part), k

    # -- parameters ------------------------------------------------------------------------------
    def _init_params(self, v: int, gen: torch.Generator) -> None:
        self.vec = (torch.randn(v, self.cbow_dim, generator=gen) * self.init_std).requires_grad_()
        eye = torch.eye(self.k).expand(v, self.k, self.k) if self.k else torch.zeros(v, 0, 0)
        self.mat = (eye + torch.randn(v, self.k, self.k, generator=gen) * self.init_std).requires_grad_()
        self.out = torch.zeros(v, self.vector_size_).requires_grad_()

    def encode_ids(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``ids``: ``(B, L)`` word ids (``mask`` 1 for real words) -> ``(B, vector_size)`` embeddings.

        Padding is the identity matrix for CMOW (the product is unchanged) and excluded from CBOW's mean.
        """
        if mask is None:
            mask = torch.ones_like(ids, dtype=torch.bool)
        parts = []
        if self.cbow_dim:
            m = mask.unsqueeze(2).float()
            parts.append((self.vec[ids] * m).sum(1) / m.sum(1).clamp_min(1.0))
        if self.k:
            mats = self.mat[ids]
            eye = torch.eye(self.k).expand_as(mats)
            mats = torch.where(mask[:, :, None, None], mats, eye)
            parts.append(ordered_product(mats).reshape(len(ids), -1))
        return torch.cat(parts, 1)

    # -- training --------------------------------------------------------------------------------
    def _windows(self, sentences: Iterable, vocab: Vocab) -> torch.Tensor:
        w = 2 * self.window + 1
        rows = []
        for s in sentences:
            ids = vocab.encode(s)
            if len(ids) >= w:
                t = torch.tensor(ids)
                rows.append(t.unfold(0, w, 1))
        if not rows:
            raise ValueError(
                f"no sentence has {w} in-vocabulary tokens (2 * window + 1): lower window or min_count"
            )
        return torch.cat(rows)

    def fit(self, sentences: Iterable) -> MatrixEmbedder:
        """Train on a re-iterable corpus of token lists (windows are held in memory: small corpora)."""
        if iter(sentences) is sentences:
            raise TypeError(
                "sentences must be re-iterable (a list or a corpus object), not a one-shot iterator"
            )
        gen = torch.Generator().manual_seed(self.seed)
        counts, total, _ = count_words(sentences)
        vocab = Vocab(counts, self.min_count)
        self.vocab, self.index_to_key, self.key_to_index = vocab, vocab.words, vocab.index
        windows = self._windows(sentences, vocab)
        self._init_params(len(vocab), gen)
        cum = vocab.negative_table(0.75)
        opt = torch.optim.Adam([p for p in (self.vec, self.mat, self.out) if p.numel()], lr=self.lr)
        w = windows.shape[1]
        losses, t0 = [], time.perf_counter()
        with torch_threads(self.threads):
            for _ in range(self.epochs):
                order = torch.randperm(len(windows), generator=gen)
                for s in range(0, len(order), self.batch_size):
                    win = windows[order[s : s + self.batch_size]]
                    b = len(win)
                    if self.random_target:
                        pos = torch.randint(0, w, (b,), generator=gen)
                    else:
                        pos = torch.full((b,), self.window)
                    keep = torch.ones(b, w, dtype=torch.bool)
                    keep[torch.arange(b), pos] = False
                    context = win[keep].reshape(b, w - 1)
                    target = win[torch.arange(b), pos]
                    neg = draw_negatives(cum, (b, self.negative), gen)
                    h = self.encode_ids(context)
                    out_ids = torch.cat([target[:, None], neg], 1)
                    score = torch.einsum("bkd,bd->bk", self.out[out_ids], h)
                    sign = torch.full_like(score, -1.0)
                    sign[:, 0] = 1.0
                    valid = torch.ones_like(score)
                    valid[:, 1:] = (neg != target[:, None]).float()
                    loss = -(torch.nn.functional.logsigmoid(sign * score) * valid).sum(1).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    losses.append(loss.item())
        secs = time.perf_counter() - t0
        self.stats = {"seconds": secs, "loss_first": losses[0], "loss_last": losses[-1], "steps": len(losses)}
        for name, t in (("word vectors", self.vec), ("word matrices", self.mat)):
            _check_finite(f"{type(self).__name__} training diverged: the {name}", t.detach(), " (lower lr)")
        return self

    # -- lookup ------------------------------------------------------------------------------------
    def _vectors(self) -> torch.Tensor:
        """Each word's embedding as a one-word sequence: ``[v_w ; vec(X_w)]``."""
        with torch.no_grad():
            return self.encode_ids(torch.arange(len(self.index_to_key))[:, None])

    def _encode_tokens(self, tokens: list[str], i: int) -> torch.Tensor:
        ids = [self.key_to_index[t] for t in tokens if t in self.key_to_index]
        if not ids:
            raise KeyError(f"item {i}: none of its tokens is in the vocabulary: {tokens[:10]!r}")
        with torch.no_grad():
            return self.encode_ids(torch.tensor([ids]))[0]

    def encode_batch(self, sentences: list[list[str]]) -> torch.Tensor:
        """``(N, vector_size)`` for token lists at once (unknown tokens dropped; padded per batch)."""
        self._require_fit()
        ids = [[self.key_to_index[t] for t in s if t in self.key_to_index] for s in sentences]
        for i, s in enumerate(ids):
            if not s:
                raise KeyError(f"item {i}: none of its tokens is in the vocabulary: {sentences[i][:10]!r}")
        n = max(map(len, ids))
        pad = torch.zeros(len(ids), n, dtype=torch.long)
        mask = torch.zeros(len(ids), n, dtype=torch.bool)
        for i, s in enumerate(ids):
            pad[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = True
        with torch.no_grad():
            return self.encode_ids(pad, mask)

    # -- state -------------------------------------------------------------------------------------
    def _config(self) -> dict:
        return {
            "mode": self.mode,
            "vector_size": self.vector_size_,
            "window": self.window,
            "negative": self.negative,
            "min_count": self.min_count,
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "init_std": self.init_std,
            "random_target": self.random_target,
            "seed": self.seed,
        }

    def _tensors(self) -> dict:
        return {"vec": self.vec.detach(), "mat": self.mat.detach(), "out": self.out.detach()}

    def _dims(self) -> dict:
        v = len(self.index_to_key)
        return {"vec": (v, self.cbow_dim), "mat": (v, self.k, self.k), "out": (v, self.vector_size_)}

    def _restore(self, config, tensors) -> None:
        self.vec, self.mat, self.out = (tensors[k].clone() for k in ("vec", "mat", "out"))


@register("embedder", "cmow", implements=CMOW_PAPER, used_by=[CMOW_PAPER.title])
class CMOW(MatrixEmbedder):
    """CMOW: a sequence is the ordered product of its words' matrices (order-aware)."""

    name = "cmow"

    def __init__(self, vector_size: int = 400, **kw):
        super().__init__(mode="cmow", vector_size=vector_size, **kw)

    def _config(self) -> dict:
        c = super()._config()
        c.pop("mode")
        return c


@register("embedder", "hybrid", implements=CMOW_PAPER, used_by=[CMOW_PAPER.title])
class HybridCBOWCMOW(MatrixEmbedder):
    """Hybrid CBOW-CMOW: ``[mean of word vectors ; ordered product of word matrices]``, trained jointly."""

    name = "hybrid"

    def __init__(self, vector_size: int = 800, **kw):
        super().__init__(mode="hybrid", vector_size=vector_size, **kw)

    def _config(self) -> dict:
        c = super()._config()
        c.pop("mode")
        return c
