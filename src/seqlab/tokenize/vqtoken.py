"""VQToken: a video token grid as a tiny adaptive codebook plus a token hash.

Paper: "Neural Discrete Token Representation Learning for Extreme Token Reduction in Video Large
Language Models" (VQToken). For a grid ``X in R^{T x H x W x D}`` of continuous tokens::

    C = {c_1..c_K} = k-means(X)               K fixed (fixed-length) or chosen from the data:
                                              smallest K with |X - C[h]|^2 / |X - mean X|^2 <= tol
    h(t, i, j) = argmin_k |X[t, i, j] - c_k|  token hash: the code index of every grid position
    X_hat[t, i, j] = c_{h(t, i, j)}           full-grid reconstruction with positions intact
    reduction = K / (T H W),   TokDense = score / K   (information per token)

The short sequence ``C`` is what a language model reads; ``h`` lets it (or a position embedding)
recover where each code occurs. The paper scores TokDense as task accuracy per token; here
``score`` is any quality in [0, 1], by default the explained variance ``1 - relative MSE``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqlab.registry import Paper, register
from seqlab.tokenize.base import check_features
from seqlab.tokenize.kmeans import kmeans, squared_distances

VQTOKEN = (
    "Neural Discrete Token Representation Learning for Extreme Token Reduction in Video Large Language Models"
)


@dataclass
class VQTokenCode:
    """The compact representation: ``tokens (K, D)`` and the token hash ``(T, H, W)`` of code indices."""

    tokens: torch.Tensor
    hash: torch.Tensor

    @property
    def num_tokens(self) -> int:
        return self.tokens.shape[0]

    @property
    def reduction_ratio(self) -> float:
        """Compressed length over original length, ``K / (T H W)``."""
        return self.num_tokens / self.hash.numel()

    def positions_of(self, k: int) -> torch.Tensor:
        """``(n, 3)`` grid positions ``(t, i, j)`` whose token hash is ``k``."""
        return torch.nonzero(self.hash == k)


def tok_dense(score: float, num_tokens: int) -> float:
    """Token information density: ``score / num_tokens``."""
    if num_tokens <= 0:
        raise ValueError(f"tok_dense expects num_tokens >= 1, got {num_tokens}")
    return score / num_tokens


def relative_error(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """``|x - x_hat|^2 / |x - mean(x)|^2`` over all tokens (0 perfect, 1 = predicting the mean)."""
    flat = x.reshape(-1, x.shape[-1])
    denom = (flat - flat.mean(0)).pow(2).sum().clamp_min(1e-12)
    return float((flat - x_hat.reshape_as(flat)).pow(2).sum() / denom)


@register(
    "tokenizer", "vqtoken", implements=Paper(VQTOKEN, "2503.16980"), used_by=[VQTOKEN],
    family="grid compressor",
)
class VQToken:
    """VQToken: adaptive k-means codebook of a (T, H, W, D) token grid + token hash (fixed/adaptive K)."""

    def __init__(self, num_tokens: int | None = None, max_tokens: int = 64, tolerance: float = 0.05,
                 kmeans_iters: int = 20, seed: int = 0):
        if num_tokens is not None and (not isinstance(num_tokens, int) or num_tokens < 1):
            raise ValueError(f"num_tokens must be a positive int or None (adaptive), got {num_tokens!r}")
        if not 0.0 < tolerance < 1.0:
            raise ValueError(f"tolerance must be in (0, 1), got {tolerance}")
        self.num_tokens, self.max_tokens, self.tolerance = num_tokens, max_tokens, tolerance
        self.kmeans_iters, self.seed = kmeans_iters, seed

    @property
    def variant(self) -> str:
        return "fixed-length" if self.num_tokens is not None else "adaptive-length"

    def _fit(self, flat: torch.Tensor, k: int) -> tuple[torch.Tensor, float]:
        g = torch.Generator().manual_seed(self.seed)
        c = kmeans(flat, k, self.kmeans_iters, g)
        h = squared_distances(flat, c).argmin(-1)
        return c, relative_error(flat, c[h])

    def encode(self, grid: torch.Tensor) -> VQTokenCode:
        if grid.dim() != 4:
            raise ValueError(f"VQToken expects a token grid of shape (frames, height, width, dim), "
                             f"got {tuple(grid.shape)}")
        check_features(grid, grid.shape[-1], "VQToken")
        flat = grid.reshape(-1, grid.shape[-1]).float()
        n = flat.shape[0]
        if self.num_tokens is not None:
            if self.num_tokens > n:
                raise ValueError(f"VQToken with num_tokens={self.num_tokens} needs a grid of at least that "
                                 f"many tokens, got {n}")
            c, _ = self._fit(flat, self.num_tokens)
        else:
            c = self._adaptive(flat, min(self.max_tokens, n))
        h = squared_distances(flat, c).argmin(-1).reshape(grid.shape[:-1])
        return VQTokenCode(c, h)

    def _adaptive(self, flat: torch.Tensor, k_max: int) -> torch.Tensor:
        """Smallest K meeting the tolerance: doubling, then binary search between the last two sizes."""
        k, best = 1, None
        while True:
            c, err = self._fit(flat, k)
            if err <= self.tolerance or k >= k_max:
                best = c
                break
            k = min(2 * k, k_max)
        lo, hi = k // 2 + 1, k
        while lo < hi and best.shape[0] > 1:
            mid = (lo + hi) // 2
            c, err = self._fit(flat, mid)
            if err <= self.tolerance:
                best, hi = c, mid
            else:
                lo = mid + 1
        return best

    def decode(self, code: VQTokenCode) -> torch.Tensor:
        """Full-grid ``(T, H, W, D)`` reconstruction ``tokens[hash]``."""
        h = code.hash
        if h.dtype != torch.long or h.dim() != 3 or (h < 0).any() or (h >= code.num_tokens).any():
            raise ValueError(f"VQToken.decode expects a (T, H, W) long hash with entries in "
                             f"[0, {code.num_tokens}), got {h.dtype} of shape {tuple(h.shape)}")
        return code.tokens[h]

    def report(self, grid: torch.Tensor, code: VQTokenCode) -> dict[str, float]:
        err = relative_error(grid.float(), self.decode(code))
        return {
            "original_tokens": float(code.hash.numel()),
            "tokens": float(code.num_tokens),
            "reduction_ratio": code.reduction_ratio,
            "relative_mse": err,
            "mse": float((grid.float() - self.decode(code)).pow(2).mean()),
            "tokdense": tok_dense(max(0.0, 1.0 - err), code.num_tokens),
        }


def make_video_grid(frames: int = 16, height: int = 16, width: int = 16, dim: int = 64,
                    objects: int = 3, backgrounds: int = 3, noise: float = 0.05, seed: int = 0):
    """A video-like token grid: objects (squares) moving over banded backgrounds, plus noise.

    Returns ``(grid (T, H, W, dim), labels (T, H, W))`` with ``labels`` the prototype index.
    """
    g = torch.Generator().manual_seed(seed)
    protos = torch.randn(backgrounds + objects, dim, generator=g)
    band = (torch.arange(height) * backgrounds) // height
    labels = band[None, :, None].expand(frames, height, width).clone()
    size = max(2, min(height, width) // 5)
    pos = torch.rand(objects, 2, generator=g) * torch.tensor([height - size, width - size])
    vel = (torch.rand(objects, 2, generator=g) - 0.5) * 2.0
    for t in range(frames):
        for o in range(objects):
            p = pos[o] + vel[o] * t
            lim = torch.tensor([height - size, width - size], dtype=p.dtype)
            p = lim - (p % (2 * lim) - lim).abs()  # bounce off the borders
            i, j = int(p[0].round()), int(p[1].round())
            labels[t, i:i + size, j:j + size] = backgrounds + o
    grid = protos[labels] + noise * torch.randn(frames, height, width, dim, generator=g)
    return grid, labels
