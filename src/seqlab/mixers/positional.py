"""Positional encodings: additive ones added to the embeddings, relative ones used inside attention.

Every component is built as ``create("positional", name, d_model=..., max_len=..., ...)`` and takes
integer ``positions`` of shape ``(batch, length)``.

Additive (``additive = True``, ``forward(positions) -> (batch, length, d_model)``):

- ``sinusoidal`` ("Attention Is All You Need", arXiv 1706.03762):
  ``PE[p, 2i] = sin(p / 10000^(2i/d))``, ``PE[p, 2i+1] = cos(p / 10000^(2i/d))``;
- ``learned``: a trainable table ``PE[p]`` for ``0 <= p < max_len``.

Relative (``additive = False``; the attention mixer calls them):

- ``rope`` ("RoFormer: Enhanced Transformer with Rotary Position Embedding", arXiv 2104.09864):
  rotate each pair ``(x_{2i}, x_{2i+1})`` of a query/key at position ``p`` by the angle
  ``p * theta_i / s`` with ``theta_i = base^(-2i/d)``, so ``<R_p q, R_r k>`` depends on ``p - r`` only.
  ``s`` is the positional-interpolation factor (``interpolation``), one of the context-extension
  techniques reviewed in "Beyond the Limits: A Survey of Techniques to Extend the Context Length in
  Large Language Models" (arXiv 2402.02244): positions ``s`` times longer than in training map into
  the trained angle range.
- ``alibi`` ("Train Short, Test Long: Attention with Linear Biases Enables Input Length
  Extrapolation", arXiv 2108.12409): score bias ``-m_h |p_i - p_j|`` with head slopes
  ``m_h = 2^(-8h/H)`` (geometric interpolation when ``H`` is not a power of two).
- ``urpe`` ("Your Transformer May Not be as Powerful as You Expect", arXiv 2205.13401): attention
  probabilities are multiplied element-wise by a learnable Toeplitz matrix per head,
  ``A = softmax(Q K^T / sqrt(d)) * C``, ``C_{ij} = c_{p_i - p_j}`` -- causal: ``c_0 .. c_{max_len-1}``,
  bidirectional: ``c_{-(max_len-1)} .. c_{max_len-1}``; initialised to ones (plain attention).

Randomized positional encodings ("Randomized Positional Encodings Boost Length Generalization of
Transformers", arXiv 2305.16843) are a way of choosing the positions, not a new table: during
training ``SequenceModel(randomized_positions=M)`` feeds a sorted random subset of ``[0, M)`` as
``positions`` (arange at evaluation), which every encoding here consumes unchanged -- additive ones
through the model, ``rope``/``alibi``/``urpe`` through attention.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqlab import debug
from seqlab.registry import Paper, register

RANDOMIZED = "Randomized Positional Encodings Boost Length Generalization of Transformers"
SURVEY = "Beyond the Limits: A Survey of Techniques to Extend the Context Length in Large Language Models"
URPE_TITLE = "Your Transformer May Not be as Powerful as You Expect"


def check_positions(positions: torch.Tensor, batch: int | None = None, length: int | None = None,
                    name: str = "positions") -> torch.Tensor:
    """Raise ``ValueError`` unless ``positions`` is a non-negative integer ``(batch, length)`` tensor."""
    if not isinstance(positions, torch.Tensor) or positions.dim() != 2:
        got = tuple(positions.shape) if isinstance(positions, torch.Tensor) else type(positions).__name__
        raise ValueError(f"{name} expects an integer tensor of shape (batch, length), got {got}")
    if positions.is_floating_point() or positions.is_complex() or positions.dtype == torch.bool:
        raise ValueError(f"{name} expects integer positions, got dtype {positions.dtype}")
    want = (positions.shape[0] if batch is None else batch, positions.shape[1] if length is None else length)
    if tuple(positions.shape) != want:
        raise ValueError(f"{name} expects positions of shape {want}, got {tuple(positions.shape)}")
    if positions.numel() and (positions.device.type == "cpu" or debug.enabled()) and positions.min() < 0:
        # a value read: on an accelerator it would sync the device, so it runs there only in debug mode
        raise ValueError(f"{name} expects non-negative positions, got minimum {int(positions.min())}")
    return positions.long()


def _check_dims(d_model: int, max_len: int) -> None:
    if not isinstance(d_model, int) or d_model <= 0:
        raise ValueError(f"positional encoding expects a positive int d_model, got {d_model!r}")
    if not isinstance(max_len, int) or max_len <= 0:
        raise ValueError(f"positional encoding expects a positive int max_len, got {max_len!r}")


@register("positional", "sinusoidal", implements=Paper("Attention Is All You Need", "1706.03762"),
          used_by=[RANDOMIZED])
class Sinusoidal(nn.Module):
    """Fixed sinusoidal table (arXiv 1706.03762): PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i)."""

    additive = True

    def __init__(self, d_model: int, max_len: int = 4096, base: float = 10000.0):
        super().__init__()
        _check_dims(d_model, max_len)
        self.d_model, self.max_len = d_model, max_len
        self.register_buffer("freq", base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model),
                             persistent=False)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        positions = check_positions(positions, name="Sinusoidal")
        angle = positions.to(torch.float64)[..., None] * self.freq
        out = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)[..., : self.d_model]
        return out.to(torch.get_default_dtype())


@register("positional", "learned",
          implements=Paper("Convolutional Sequence to Sequence Learning", "1705.03122"),
          used_by=[RANDOMIZED])
class Learned(nn.Module):
    """Trainable absolute table PE[p] for 0 <= p < max_len (randomized PE, arXiv 2305.16843, samples p)."""

    additive = True

    def __init__(self, d_model: int, max_len: int = 4096):
        super().__init__()
        _check_dims(d_model, max_len)
        self.max_len = max_len
        self.table = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.table.weight, std=0.02)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        positions = check_positions(positions, name="Learned")
        if positions.numel() and (positions.device.type == "cpu" or debug.enabled()) and (
            positions.max() >= self.max_len
        ):
            raise ValueError(
                f"Learned expects positions < max_len={self.max_len}, got {int(positions.max())}"
            )
        return self.table(positions)


@register("positional", "rope",
          implements=Paper("RoFormer: Enhanced Transformer with Rotary Position Embedding", "2104.09864"),
          used_by=[RANDOMIZED, SURVEY])
class RoPE(nn.Module):
    """Rotary embedding (arXiv 2104.09864): (x_2i, x_2i+1) rotated by angle p * base^(-2i/d) / interpolation.

    ``d_model`` is the rotated (per-head) width; an odd last channel is left unrotated.
    """

    additive = False

    def __init__(self, d_model: int, max_len: int = 4096, base: float = 10000.0, interpolation: float = 1.0):
        super().__init__()
        _check_dims(d_model, max_len)
        if not interpolation > 0:
            raise ValueError(f"RoPE expects interpolation > 0, got {interpolation!r}")
        self.d_model, self.max_len, self.interpolation = d_model, max_len, float(interpolation)
        half = d_model // 2
        self.register_buffer("freq", base ** (-2 * torch.arange(half, dtype=torch.float64) / d_model),
                             persistent=False)
        self._cache: dict = {}  # (device, complex dtype) -> rotations of arange(n), built on first use

    def factor(self, positions: torch.Tensor | None, length: int, device=None, dtype=torch.float32):
        """Unit complex rotations ``exp(i p theta_j / s)``: ``(batch, 1, length, d_model // 2)``.

        ``positions=None`` means ``arange(length)`` for every sequence: that table is computed once
        and cached (shape ``(1, 1, length, half)``), so it is not rebuilt per call and per layer.
        """
        cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        if positions is None:
            key = (torch.device(device) if device is not None else self.freq.device, cdtype)
            cached = self._cache.get(key)
            if cached is None or cached.shape[2] < length:
                pos = torch.arange(max(length, 1), dtype=torch.float64, device=self.freq.device)
                cached = self._polar(pos[None, None, :, None]).to(device=key[0], dtype=cdtype)
                self._cache[key] = cached
            return cached[:, :, :length]
        return self._polar(positions.to(self.freq.device, torch.float64)[:, None, :, None]).to(device, cdtype)

    def _polar(self, pos: torch.Tensor) -> torch.Tensor:
        angle = pos * self.freq.double() / self.interpolation
        return torch.polar(torch.ones_like(angle), angle)

    def apply(self, x: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
        """Rotate channel pairs of ``x: (..., length, d_model)`` by ``rot`` from :meth:`factor`.

        float32/float64 multiply as complex numbers (one fused op); other dtypes (bf16, fp16) take the
        same rotation written with cos/sin in the input dtype.
        """
        n = 2 * self.freq.numel()
        head = x if n == x.shape[-1] else x[..., :n]
        if x.dtype in (torch.float32, torch.float64):
            if head.storage_offset() % 2 or any(st % 2 for st in head.stride()[:-1]) or head.stride(-1) != 1:
                head = head.contiguous()
            z = torch.view_as_complex(head.unflatten(-1, (-1, 2))) * rot.to(
                torch.complex128 if x.dtype == torch.float64 else torch.complex64
            )
            rotated = torch.view_as_real(z).flatten(-2)
        else:
            cos, sin = rot.real.to(x.dtype), rot.imag.to(x.dtype)
            pairs = head.unflatten(-1, (-1, 2))
            a, b = pairs[..., 0], pairs[..., 1]
            rotated = torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)
        return rotated if n == x.shape[-1] else torch.cat([rotated, x[..., n:]], dim=-1)

    def rotate(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Rotate ``x: (batch, heads, length, d_model)`` by ``positions: (batch, length)`` (None: arange)."""
        if x.dim() != 4 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"RoPE expects x of shape (batch, heads, length, {self.d_model}), got {tuple(x.shape)}"
            )
        if positions is not None:
            check_positions(positions, x.shape[0], x.shape[2], name="RoPE")
        return self.apply(x, self.factor(positions, x.shape[2], x.device, x.dtype))


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Head slopes 2^(-8h/H), h = 1..H; for H not a power of two, the ALiBi paper's interleaving."""
    def geometric(n):
        return [2.0 ** (-8.0 * (h + 1) / n) for h in range(n)]

    p = 2 ** int(math.floor(math.log2(n_heads)))
    slopes = geometric(p)
    if p < n_heads:
        slopes += geometric(2 * p)[0::2][: n_heads - p]
    return torch.tensor(slopes)


@register("positional", "alibi",
          implements=Paper("Train Short, Test Long: Attention with Linear Biases Enables Input Length "
                           "Extrapolation", "2108.12409"),
          used_by=[RANDOMIZED, SURVEY])
class ALiBi(nn.Module):
    """Linear attention bias (arXiv 2108.12409): score_ij += -m_h |p_i - p_j|."""

    additive = False

    def __init__(self, d_model: int, max_len: int = 4096, n_heads: int = 1):
        super().__init__()
        _check_dims(d_model, max_len)
        if not isinstance(n_heads, int) or n_heads <= 0:
            raise ValueError(f"ALiBi expects a positive int n_heads, got {n_heads!r}")
        self.register_buffer("slopes", alibi_slopes(n_heads), persistent=False)

    def bias(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        """``(batch, heads, Lq, Lk)`` additive score bias for query/key positions ``(batch, L)``."""
        q, k = q_pos.to(self.slopes.dtype), k_pos.to(self.slopes.dtype)  # exact below 2^24
        dist = (q[:, :, None] - k[:, None, :]).abs_()
        return dist[:, None] * -self.slopes[None, :, None, None]


@register("positional", "urpe", implements=Paper(URPE_TITLE, "2205.13401"), used_by=[URPE_TITLE])
class URPE(nn.Module):
    """Universal RPE (arXiv 2205.13401): probabilities times a learnable Toeplitz C_ij = c_{p_i - p_j}."""

    additive = False

    def __init__(self, d_model: int, max_len: int = 4096, n_heads: int = 1, causal: bool = True):
        super().__init__()
        _check_dims(d_model, max_len)
        if not isinstance(n_heads, int) or n_heads <= 0:
            raise ValueError(f"URPE expects a positive int n_heads, got {n_heads!r}")
        self.max_len, self.causal = max_len, causal
        # index k holds c_{k - offset}: causal c_0..c_{max_len-1}, else c_{-(max_len-1)}..c_{max_len-1}
        self.offset = 0 if causal else max_len - 1
        self.coef = nn.Parameter(torch.ones(n_heads, max_len + self.offset))

    def scale(self, q_pos: torch.Tensor, k_pos: torch.Tensor, allowed: torch.Tensor | None = None):
        """``(batch, heads, Lq, Lk)`` multipliers ``c_{p_i - p_j}``; pairs not ``allowed`` get 0."""
        diff = q_pos[:, :, None] - k_pos[:, None, :]
        idx = diff + self.offset
        if allowed is not None:  # masked pairs (future keys, stale cache slots) get c_0; their weight is 0
            idx = torch.where(allowed.any(1) if allowed.dim() == 4 else allowed, idx, self.offset)
        lo, hi = (0, self.max_len - 1) if self.causal else (-(self.max_len - 1), self.max_len - 1)
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.coef.shape[1]):
            bad = int((idx - self.offset).min() if idx.min() < 0 else (idx - self.offset).max())
            raise ValueError(f"URPE expects relative positions p_i - p_j in [{lo}, {hi}], got {bad}")
        return self.coef[:, idx].permute(1, 0, 2, 3)
