"""The shared quantizer interface and the diagnostics every quantizer reports.

A quantizer maps continuous vectors ``x: (..., dim)`` to integer codes and back::

    out = q(x, mask)            # training: QuantizerOutput(quantized, codes, loss, losses, metrics)
    codes = q.encode(x, mask)   # no state updates, no gradients
    x_hat = q.decode(codes)

Losses are returned explicitly (``out.loss`` is their sum; the caller adds it to its own loss).
Padded positions (``mask == False``) get the code :data:`PAD` (-1); ``decode`` maps ``PAD`` to
zero vectors. Diagnostics: codebook usage (fraction of codes used), perplexity
``exp(H(p))`` of the code histogram ``p``, dead codes (count 0) and reconstruction MSE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

PAD = -1


@dataclass
class QuantizerOutput:
    """What one training forward pass of a quantizer returns.

    ``metrics`` (usage, perplexity, dead codes, MSE, ...) is computed on first access, so a training
    loop that never reads it pays nothing for it.
    """

    quantized: torch.Tensor
    codes: torch.Tensor
    loss: torch.Tensor
    losses: dict[str, torch.Tensor] = field(default_factory=dict)
    metrics_fn: Callable[[], dict[str, float]] | None = field(default=None, repr=False)
    _metrics: dict[str, float] | None = field(default=None, repr=False)

    @property
    def metrics(self) -> dict[str, float]:
        if self._metrics is None:
            self._metrics = self.metrics_fn() if self.metrics_fn is not None else {}
        return self._metrics


def lazy_metrics(codes, size, x, x_hat, mask=None, extra=None) -> Callable[[], dict[str, float]]:
    """A closure computing :func:`codebook_stats` of ``codes``, the MSE of ``x_hat`` and ``extra()``."""
    codes, x, x_hat = codes.detach(), x.detach(), x_hat.detach()

    def compute() -> dict[str, float]:
        out = codebook_stats(codes, size) if size is not None else {}
        out["mse"] = float(masked_mse(x, x_hat, mask))
        if extra is not None:
            out.update(extra())
        return out

    return compute


def check_features(x: torch.Tensor, dim: int, who: str, mask: torch.Tensor | None = None) -> None:
    """Raise ``ValueError`` naming what was expected when ``x`` is not ``(..., dim)`` finite floats."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{who} expects a torch.Tensor of shape (..., {dim}), got {type(x).__name__}")
    if x.dim() < 1 or x.shape[-1] != dim:
        raise ValueError(f"{who} expects features of shape (..., {dim}), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{who} expects a floating-point tensor, got dtype {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{who} expects a non-empty batch of vectors, got shape {tuple(x.shape)}")
    # a finite sum proves every entry finite (NaN/inf propagate); only a non-finite sum needs the full check
    if not torch.isfinite(x.sum()) and not torch.isfinite(x).all():
        raise ValueError(f"{who} expects finite inputs, got NaN or inf")
    if mask is not None:
        if mask.shape != x.shape[:-1] or mask.dtype != torch.bool:
            raise ValueError(
                f"{who} expects a bool mask of shape {tuple(x.shape[:-1])}, "
                f"got {mask.dtype} of shape {tuple(mask.shape)}"
            )
        if not mask.any():
            raise ValueError(f"{who} expects at least one unmasked position, got an all-False mask")


def check_codes(codes: torch.Tensor, size: int, who: str, allow_pad: bool = True) -> None:
    """Raise ``ValueError`` when ``codes`` are not integers in ``[0, size)`` (or ``PAD``)."""
    if not isinstance(codes, torch.Tensor) or codes.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{who} expects an integer code tensor, got {getattr(codes, 'dtype', type(codes))}")
    bad = (codes >= size) | (codes < (PAD if allow_pad else 0))
    if bad.any():
        raise ValueError(
            f"{who} expects codes in [0, {size})" + (" or -1 for padding" if allow_pad else "")
            + f", got {codes[bad].flatten()[:5].tolist()}"
        )


def code_histogram(codes: torch.Tensor, size: int) -> torch.Tensor:
    """Counts of each code in ``[0, size)``; ``PAD`` entries are ignored."""
    flat = codes.reshape(-1)
    flat = flat[flat >= 0]
    return torch.bincount(flat, minlength=size).to(torch.float64)


def codebook_stats(codes: torch.Tensor, size: int) -> dict[str, float]:
    """Usage (fraction of codes used), perplexity ``exp(-sum p log p)`` and dead-code count."""
    counts = code_histogram(codes, size)
    total = counts.sum()
    if total == 0:
        return {"usage": 0.0, "perplexity": 0.0, "dead_codes": float(size)}
    p = counts / total
    nz = p[p > 0]
    return {
        "usage": float((counts > 0).double().mean()),
        "perplexity": float(torch.exp(-(nz * nz.log()).sum())),
        "dead_codes": float((counts == 0).sum()),
    }


def masked_mse(x: torch.Tensor, x_hat: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over feature entries at unmasked positions."""
    err = (x - x_hat).pow(2).mean(-1)
    return err.mean() if mask is None else err[mask].mean()


class Quantizer(nn.Module):
    """Base class: ``forward`` (training, returns :class:`QuantizerOutput`), ``encode``, ``decode``."""

    dim: int
    codebook_size: int

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def stats(self, codes: torch.Tensor) -> dict[str, float]:
        """Codebook diagnostics of a code tensor (all heads/levels share one histogram per table)."""
        return codebook_stats(codes, self.codebook_size)
