"""Finite scalar quantization (FSQ).

Paper: "Finite Scalar Quantization: VQ-VAE Made Simple" (Mentzer et al., arXiv 2309.15505). Each of
``d = len(levels)`` channels is bounded and rounded to one of ``L_i`` values::

    b_i = tanh(z_i + s_i) * h_i - o_i,   h_i = (L_i - 1)(1 + eps)/2,  o_i = 0.5 [L_i even],
    s_i = atanh(o_i / h_i),   q_i = round_STE(b_i) / floor(L_i / 2)
    code = sum_i (q_i floor(L_i/2) + floor(L_i/2)) prod_{j<i} L_j     (implicit codebook prod L_i)

When ``dim != len(levels)`` linear projections map ``dim -> d`` before and ``d -> dim`` after.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqlab.registry import Paper, register
from seqlab.tokenize.base import PAD, Quantizer, QuantizerOutput, check_codes, check_features, lazy_metrics

# The level sets the FSQ paper recommends for a target codebook size (Table 1).
STANDARD_LEVELS: dict[int, list[int]] = {
    2**8: [8, 6, 5],
    2**10: [8, 5, 5, 5],
    2**12: [7, 5, 5, 5, 5],
    2**14: [8, 8, 8, 6, 5],
    2**16: [8, 8, 8, 5, 5, 5],
}


def standard_levels(codebook_size: int) -> list[int]:
    """The paper's recommended levels for ``codebook_size`` in {2^8, 2^10, 2^12, 2^14, 2^16}."""
    if codebook_size not in STANDARD_LEVELS:
        raise ValueError(
            f"no standard FSQ level set for codebook size {codebook_size}; "
            f"expected one of {sorted(STANDARD_LEVELS)} or pass levels explicitly"
        )
    return list(STANDARD_LEVELS[codebook_size])


@register(
    "tokenizer", "fsq", implements=Paper("Finite Scalar Quantization: VQ-VAE Made Simple", "2309.15505"),
    family="quantizer",
)
class FSQ(Quantizer):
    """Finite scalar quantization (arXiv 2309.15505): per-channel rounding to ``levels``, implicit codes."""

    def __init__(self, levels: list[int], dim: int | None = None, eps: float = 1e-3, seed: int = 0):
        super().__init__()
        if not levels or any(not isinstance(v, int) or v < 2 for v in levels):
            raise ValueError(f"levels must be a non-empty list of ints >= 2, got {levels!r}")
        self.levels = list(levels)
        self.dim = dim or len(levels)
        self.codebook_size = math.prod(levels)
        lv = torch.tensor(levels, dtype=torch.float64)
        half = (lv - 1) * (1 + eps) / 2
        offset = (lv % 2 == 0).double() * 0.5
        self.register_buffer("_half", half.float())
        self.register_buffer("_offset", offset.float())
        self.register_buffer("_shift", torch.atanh(offset / half).float())
        self.register_buffer("_width", (lv // 2).float())
        basis = torch.cumprod(torch.tensor([1] + levels[:-1]), 0)
        self.register_buffer("_basis", basis)
        self.register_buffer("_levels", torch.tensor(levels))
        d = len(levels)
        with torch.random.fork_rng():  # projections initialised from ``seed``, global RNG untouched
            torch.manual_seed(seed)
            self.project_in = nn.Linear(self.dim, d) if self.dim != d else nn.Identity()
            self.project_out = nn.Linear(d, self.dim) if self.dim != d else nn.Identity()

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z + self._shift) * self._half - self._offset

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Rounded, normalised values in ``[-1, 1]`` with a straight-through gradient."""
        b = self.bound(z)
        return (b + (torch.round(b) - b).detach()) / self._width

    def _to_codes(self, q: torch.Tensor) -> torch.Tensor:
        digits = torch.round(q * self._width + self._width).long()
        return (digits * self._basis).sum(-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> QuantizerOutput:
        check_features(x, self.dim, type(self).__name__, mask)
        q = self.quantize(self.project_in(x))
        codes = self._to_codes(q.detach())
        out = self.project_out(q)
        if mask is not None:
            codes = codes.masked_fill(~mask, PAD)
            out = out * mask[..., None]
        metrics = lazy_metrics(codes, self.codebook_size, x, out, mask)
        return QuantizerOutput(out, codes, x.new_zeros(()), {}, metrics)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        check_features(x, self.dim, type(self).__name__, mask)
        codes = self._to_codes(self.quantize(self.project_in(x)))
        return codes if mask is None else codes.masked_fill(~mask, PAD)

    def codes_to_values(self, codes: torch.Tensor) -> torch.Tensor:
        """The normalised lattice point ``(..., len(levels))`` of each code."""
        check_codes(codes, self.codebook_size, type(self).__name__, allow_pad=False)
        digits = (codes[..., None].long() // self._basis) % self._levels
        return (digits.float() - self._width) / self._width

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        check_codes(codes, self.codebook_size, type(self).__name__)
        pad = codes < 0
        vals = self.codes_to_values(codes.clamp_min(0))
        return self.project_out(vals) * (~pad)[..., None]
