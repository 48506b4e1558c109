"""Residual vector quantization (trained, with quantizer dropout) and residual k-means (no gradients).

Papers: "Autoregressive Image Generation using Residual Quantization" (RQ-VAE, arXiv 2107.14795) and
"SoundStream: An End-to-End Neural Audio Codec" (arXiv 2107.03312, quantizer dropout). With
``r_0 = x``::

    c_l = VQ_l(r_l),  r_{l+1} = r_l - e_l[c_l],  x_hat = sum_{l < L} e_l[c_l]

Quantizer dropout trains with a random number of levels ``n ~ U{1..L}`` per batch so any prefix of
the codes decodes. Residual k-means fits level ``l`` by mini-batch k-means on ``r_l`` of the data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.registry import Paper, register
from seqlab.tokenize.base import (
    PAD,
    Quantizer,
    QuantizerOutput,
    check_codes,
    check_features,
    codebook_stats,
    lazy_metrics,
)
from seqlab.tokenize.kmeans import minibatch_kmeans, squared_distances
from seqlab.tokenize.vq import VectorQuantizer

RQ_PAPERS = (
    Paper("Autoregressive Image Generation using Residual Quantization", "2107.14795"),
    Paper("SoundStream: An End-to-End Neural Audio Codec", "2107.03312"),
)
SEMANTIC_IDS = "Generative Recommendation with Semantic IDs: A Practitioner's Handbook"


def _check_levels(levels: int) -> None:
    if not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be a positive int, got {levels!r}")


def _check_level_codes(codes: torch.Tensor, levels: int, size: int, who: str) -> None:
    check_codes(codes, size, who)
    if codes.dim() == 0 or codes.shape[-1] > levels:
        raise ValueError(f"{who} expects codes of shape (..., n <= {levels}), got {tuple(codes.shape)}")


@register("tokenizer", "rvq", implements=RQ_PAPERS, used_by=[SEMANTIC_IDS], family="quantizer")
class ResidualVQ(Quantizer):
    """Residual VQ (RQ-VAE 2107.14795 / SoundStream 2107.03312): per-level or shared codebooks, dropout.

    ``x: (..., dim)`` -> codes ``(..., levels)``; levels dropped in training are ``PAD``.
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        levels: int = 3,
        shared_codebook: bool = False,
        quantizer_dropout: bool = False,
        seed: int = 0,
        **vq_kwargs,
    ):
        super().__init__()
        _check_levels(levels)
        self.dim, self.codebook_size, self.levels = dim, codebook_size, levels
        self.shared_codebook, self.quantizer_dropout = shared_codebook, quantizer_dropout
        n_tables = 1 if shared_codebook else levels
        self.vqs = nn.ModuleList(
            VectorQuantizer(dim, codebook_size, seed=seed + i, **vq_kwargs) for i in range(n_tables)
        )
        if self.vqs[0].heads != 1:
            raise ValueError("ResidualVQ uses single-head codebooks; got heads != 1")
        self.generator = torch.Generator().manual_seed(seed + 10_000)

    def level(self, i: int) -> VectorQuantizer:
        return self.vqs[0 if self.shared_codebook else i]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> QuantizerOutput:
        check_features(x, self.dim, type(self).__name__, mask)
        n = self.levels
        if self.training and self.quantizer_dropout:
            n = int(torch.randint(1, self.levels + 1, (1,), generator=self.generator))
        residual, total = x, torch.zeros_like(x)
        codes, losses = [], {}
        for i in range(n):
            out = self.level(i)(residual, mask)
            residual = residual - out.quantized.detach()
            total = total + out.quantized
            codes.append(out.codes)
            for k, v in out.losses.items():
                losses[f"{k}_{i}"] = v
        codes += [torch.full_like(codes[0], PAD)] * (self.levels - n)
        codes_t = torch.stack(codes, -1)
        extra = self._level_stats(codes_t.detach(), n)
        metrics = lazy_metrics(codes_t[..., 0], self.codebook_size, x, total, mask, extra)
        return QuantizerOutput(total, codes_t, sum(losses.values()), losses, metrics)

    def _level_stats(self, codes: torch.Tensor, n: int):
        def compute():
            out = {"levels_used": float(n)}
            for i in range(n):
                out[f"perplexity_{i}"] = codebook_stats(codes[..., i], self.codebook_size)["perplexity"]
            return out

        return compute

    @torch.no_grad()
    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None, levels: int | None = None):
        check_features(x, self.dim, type(self).__name__, mask)
        residual, codes = x, []
        for i in range(levels or self.levels):
            c = self.level(i).encode(residual, mask)
            residual = residual - self.level(i).decode(c)
            codes.append(c)
        return torch.stack(codes, -1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        _check_level_codes(codes, self.levels, self.codebook_size, type(self).__name__)
        return sum(self.level(i).decode(codes[..., i]) for i in range(codes.shape[-1]))


@register(
    "tokenizer", "residual-kmeans", implements=Paper(SEMANTIC_IDS, "2507.22224"), used_by=[SEMANTIC_IDS],
    family="quantizer",
)
class ResidualKMeans(Quantizer):
    """Residual k-means (the gradient-free RQ of semantic-ID pipelines), mini-batch k-means per level.

    ``fit(data)`` then ``encode``/``decode`` like :class:`ResidualVQ`; codes ``(..., levels)``.
    """

    def __init__(self, dim: int, codebook_size: int, levels: int = 3, seed: int = 0):
        super().__init__()
        _check_levels(levels)
        if not isinstance(codebook_size, int) or codebook_size < 2:
            raise ValueError(f"codebook_size must be an int >= 2, got {codebook_size!r}")
        self.dim, self.codebook_size, self.levels, self.seed = dim, codebook_size, levels, seed
        self.register_buffer("centres", torch.zeros(levels, codebook_size, dim))
        self.fitted = False

    @torch.no_grad()
    def fit(self, data: torch.Tensor, batch_size: int = 1024, steps: int = 100, generator=None):
        check_features(data, self.dim, type(self).__name__)
        g = generator or torch.Generator().manual_seed(self.seed)
        residual = data.reshape(-1, self.dim).float()
        for i in range(self.levels):
            self.centres[i] = minibatch_kmeans(residual, self.codebook_size, batch_size, steps, g)
            residual = residual - self.centres[i][squared_distances(residual, self.centres[i]).argmin(-1)]
        self.fitted = True
        return self

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> QuantizerOutput:
        codes = self.encode(x, mask)
        q = self.decode(codes).to(x.dtype)
        def extra():
            return {f"perplexity_{i}": codebook_stats(codes[..., i], self.codebook_size)["perplexity"]
                    for i in range(self.levels)}

        metrics = lazy_metrics(codes[..., 0], self.codebook_size, x, q, mask, extra)
        return QuantizerOutput(x + (q - x).detach(), codes, x.new_zeros(()), {}, metrics)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None, levels: int | None = None):
        if not self.fitted:
            raise ValueError("ResidualKMeans must be fitted (call .fit(data)) before encoding")
        check_features(x, self.dim, type(self).__name__, mask)
        flat = x.reshape(-1, self.dim).float()
        codes = []
        for i in range(levels or self.levels):
            c = squared_distances(flat, self.centres[i]).argmin(-1)
            flat = flat - self.centres[i][c]
            codes.append(c)
        out = torch.stack(codes, -1).reshape(*x.shape[:-1], len(codes))
        if mask is not None:
            out[~mask] = PAD
        return out

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        _check_level_codes(codes, self.levels, self.codebook_size, type(self).__name__)
        out = torch.zeros(*codes.shape[:-1], self.dim)
        for i in range(codes.shape[-1]):
            c = codes[..., i].long()
            out = out + F.embedding(c.clamp_min(0), self.centres[i]) * (c >= 0)[..., None]
        return out
