"""The discrete baseline of SLED: an autoregressive model over residual-quantizer tokens.

Paper: "Autoregressive Image Generation using Residual Quantization" (RQ-Transformer, arXiv
2107.14795): frames are quantized by a residual quantizer into ``L`` codes ``c_{t,1..L}``
(here :class:`seqlab.tokenize.rvq.ResidualKMeans`), a frame enters the model as the sum of its
level embeddings, and the codes of the next frame are predicted level by level, each level
conditioned on the backbone state and the embeddings of the levels already chosen:

    p(c_{t+1} | past) = prod_l softmax(W_l (h_t + sum_{l' < l} E_{l'}[c_{t+1,l'}]))[c_{t+1,l}].

The same backbone as :class:`seqlab.generate.energy.SLED` (a GRU or a causal transformer,
:func:`seqlab.generate.energy.make_backbone`), so the two compare at equal size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.generate.data import check_sequences
from seqlab.generate.energy import SLED_TITLE, make_backbone
from seqlab.registry import Paper, register
from seqlab.tokenize.rvq import ResidualKMeans

RQ_PAPER = Paper("Autoregressive Image Generation using Residual Quantization", "2107.14795")


@register("generator", "rvq-ar", implements=RQ_PAPER, used_by=[SLED_TITLE], family="token-ar")
class RVQTokenAR(nn.Module):
    """Causal backbone over residual-k-means tokens of ``dim``-channel frames; ``fit_quantizer`` before
    training. ``backbone``, ``n_layers``, ``n_heads`` as in :class:`~seqlab.generate.energy.SLED`."""

    def __init__(
        self,
        dim: int,
        hidden: int = 64,
        codebook_size: int = 32,
        levels: int = 2,
        seed: int = 0,
        backbone: str = "gru",
        n_layers: int = 1,
        n_heads: int = 4,
    ):
        super().__init__()
        self.dim, self.levels, self.size = dim, levels, codebook_size
        self.quantizer = ResidualKMeans(dim, codebook_size, levels, seed=seed)
        self.embed = nn.ModuleList(nn.Embedding(codebook_size, hidden) for _ in range(levels))
        self.backbone_kind = backbone
        self.backbone = make_backbone(backbone, hidden, hidden, n_layers, n_heads)
        self.heads = nn.ModuleList(nn.Linear(hidden, codebook_size) for _ in range(levels))

    def fit_quantizer(self, frames: torch.Tensor, steps: int = 50, generator=None) -> RVQTokenAR:
        check_sequences(frames, "RVQTokenAR.fit_quantizer", self.dim)
        self.quantizer.fit(frames, batch_size=512, steps=steps, generator=generator)
        return self

    def _embed(self, codes: torch.Tensor) -> torch.Tensor:
        return sum(self.embed[i](codes[..., i]) for i in range(self.levels))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Summed per-level cross-entropy of the next frame's codes, ``x (B, T, dim)``."""
        check_sequences(x, "RVQTokenAR.loss", self.dim)
        codes = self.quantizer.encode(x)  # (B, T, L)
        h = self.backbone.features(self._embed(codes[:, :-1]))
        target, total, cond = codes[:, 1:], 0.0, h
        for i in range(self.levels):
            logits = self.heads[i](cond)
            total = total + F.cross_entropy(logits.reshape(-1, self.size), target[..., i].reshape(-1))
            cond = cond + self.embed[i](target[..., i])
        return total

    def _sample_frame(self, h: torch.Tensor, m: int, generator=None) -> torch.Tensor:
        """``m`` sampled code tuples per state ``h (..., hidden)`` -> ``(m, ..., L)``."""
        cond = h.expand(m, *h.shape)
        codes = []
        for i in range(self.levels):
            p = torch.softmax(self.heads[i](cond), -1)
            c = torch.multinomial(p.reshape(-1, self.size), 1, generator=generator).view(p.shape[:-1])
            codes.append(c)
            cond = cond + self.embed[i](c)
        return torch.stack(codes, -1)

    @torch.no_grad()
    def predictive(self, x: torch.Tensor, m: int, generator=None) -> torch.Tensor:
        """``m`` decoded draws of every next frame given the true past: ``(m, B, T - 1, dim)``."""
        check_sequences(x, "RVQTokenAR.predictive", self.dim)
        h = self.backbone.features(self._embed(self.quantizer.encode(x[:, :-1])))
        return self.quantizer.decode(self._sample_frame(h, m, generator))

    @torch.no_grad()
    def generate(self, prefix: torch.Tensor, steps: int, generator=None) -> torch.Tensor:
        check_sequences(prefix, "RVQTokenAR.generate", self.dim)
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        h, state = self.backbone(self._embed(self.quantizer.encode(prefix)))
        out = []
        for _ in range(steps):
            codes = self._sample_frame(h[:, -1:], 1, generator)[0]
            out.append(self.quantizer.decode(codes))
            h, state = self.backbone(self._embed(codes), state)
        return torch.cat(out, 1)
