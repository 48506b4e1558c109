"""Root-mean-square layer normalisation, the one RMSNorm of seqlab.

Zhang & Sennrich, "Root Mean Square Layer Normalization", arXiv 1910.07467: over the last ``d``
features, without centring,

    RMSNorm(x) = x / sqrt(mean(x^2) + eps) * w          (w: a learned gain, optional)

Used by the GateLoop head outputs, the Mamba-2 gated output norm and the Samba sub-layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def rms_norm(x: torch.Tensor, weight: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """``x / sqrt(mean(x^2, last dim) + eps) * weight`` (fused ``torch.nn.functional.rms_norm``)."""
    return F.rms_norm(x, (x.shape[-1],), weight, eps)


def rms_norm_reference(x: torch.Tensor, weight: torch.Tensor | None = None, eps: float = 1e-5):
    """The formula written out, for tests."""
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y if weight is None else y * weight


class RMSNorm(nn.Module):
    """``rms_norm`` with a learned gain ``weight`` of ``dim`` features (initialised to ones)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"RMSNorm expects a positive int dim, got {dim!r}")
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.weight.shape[0]:
            raise ValueError(f"RMSNorm expects last dim {self.weight.shape[0]}, got shape {tuple(x.shape)}")
        return rms_norm(x, self.weight, self.eps)
