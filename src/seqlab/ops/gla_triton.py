"""Triton kernels for the in-chunk part of the chunked gated linear recurrence (:mod:`seqlab.ops.gla`).

Inside a chunk of ``C`` steps with in-chunk cumulative log-gates ``c_t`` the chunked form needs the
decayed causal scores and, in the backward pass, their gradients::

    per key dim (GLA, arXiv 2312.06635):  A[t, s] = sum_i q_t[i] k_s[i] exp(c_t[i] - c_s[i])   (s <= t)
    scalar (SSD / retention / linear attn): A[t, s] = (q_t . k_s) exp(c_t - c_s)                (s <= t)

    dq_t[i] = sum_{s<=t} dA[t, s] exp(c_t - c_s)[i] k_s[i]
    dk_s[i] = sum_{t>=s} dA[t, s] exp(c_t - c_s)[i] q_t[i]
    dc_t    = q_t * dq_t - k_t * dk_t          (summed over i for a scalar gate)

The plain PyTorch path materialises the ``(C, C, d_k)`` decay tensor of every chunk for a per-dim gate
and keeps it for the backward; these kernels build it block by block in registers and recompute it in
the backward, so nothing of size ``C * C * d_k`` reaches memory. Every ``exp`` sees
``c_t - c_s <= 0`` (the upper triangle is set to ``-inf`` first), as in the PyTorch path.

One program handles one chunk of one (batch, head); it loops over the key dimension in blocks of
``BLOCK_D``. The kernels run on CUDA tensors, or on CPU tensors under Triton's interpreter
(``TRITON_INTERPRET=1``, how the tests check them against the PyTorch reference). They are compiled
lazily, on first use, so importing seqlab never needs Triton.
"""

from __future__ import annotations

import functools
import os

import torch


def triton_installed() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "") not in ("", "0")


def usable(device: torch.device) -> bool:
    """Whether the kernels can run on tensors of ``device`` (CUDA, or any device under the interpreter)."""
    return triton_installed() and (device.type == "cuda" or interpreting())


def check_usable(t: torch.Tensor) -> None:
    if not triton_installed():
        raise ValueError("backend='triton' needs the triton package (pip install triton)")
    if not usable(t.device):
        raise ValueError(
            f"backend='triton' runs on CUDA tensors, or on CPU under TRITON_INTERPRET=1; got a {t.device} "
            "tensor without the interpreter"
        )


@functools.cache
def _kernels():
    import triton
    import triton.language as tl

    @triton.jit
    def scores_kernel(
        Q, K, CUM, A, D, C: tl.constexpr, BC: tl.constexpr, BD: tl.constexpr, PER_DIM: tl.constexpr
    ):
        pid = tl.program_id(0)
        t = tl.arange(0, BC)
        d = tl.arange(0, BD)
        rows = t < C
        causal = (t[:, None] >= t[None, :]) & rows[:, None] & rows[None, :]
        base = pid.to(tl.int64) * C * D
        acc = tl.zeros((BC, BC), dtype=tl.float32)
        for d0 in range(0, D, BD):
            m2 = rows[:, None] & ((d0 + d) < D)[None, :]
            offs = base + t[:, None] * D + d0 + d[None, :]
            q = tl.load(Q + offs, mask=m2, other=0.0).to(tl.float32)
            k = tl.load(K + offs, mask=m2, other=0.0).to(tl.float32)
            if PER_DIM:
                c = tl.load(CUM + offs, mask=m2, other=0.0).to(tl.float32)
                diff = tl.where(causal[:, :, None], c[:, None, :] - c[None, :, :], float("-inf"))
                acc += tl.sum(q[:, None, :] * k[None, :, :] * tl.exp(diff), axis=2)
            else:
                acc += tl.sum(q[:, None, :] * k[None, :, :], axis=2)
        if not PER_DIM:
            c1 = tl.load(CUM + pid.to(tl.int64) * C + t, mask=rows, other=0.0).to(tl.float32)
            acc = acc * tl.exp(tl.where(causal, c1[:, None] - c1[None, :], float("-inf")))
        out = pid.to(tl.int64) * C * C + t[:, None] * C + t[None, :]
        tl.store(A + out, acc.to(A.dtype.element_ty), mask=rows[:, None] & rows[None, :])

    @triton.jit
    def grads_kernel(
        DA, Q, K, CUM, DQ, DK, D, C: tl.constexpr, BC: tl.constexpr, BD: tl.constexpr, PER_DIM: tl.constexpr
    ):
        pid = tl.program_id(0)
        t = tl.arange(0, BC)
        d = tl.arange(0, BD)
        rows = t < C
        causal = (t[:, None] >= t[None, :]) & rows[:, None] & rows[None, :]
        da_offs = pid.to(tl.int64) * C * C + t[:, None] * C + t[None, :]
        da = tl.load(DA + da_offs, mask=rows[:, None] & rows[None, :], other=0.0).to(tl.float32)
        if not PER_DIM:
            c1 = tl.load(CUM + pid.to(tl.int64) * C + t, mask=rows, other=0.0).to(tl.float32)
            da = da * tl.exp(tl.where(causal, c1[:, None] - c1[None, :], float("-inf")))
        base = pid.to(tl.int64) * C * D
        for d0 in range(0, D, BD):
            m2 = rows[:, None] & ((d0 + d) < D)[None, :]
            offs = base + t[:, None] * D + d0 + d[None, :]
            q = tl.load(Q + offs, mask=m2, other=0.0).to(tl.float32)
            k = tl.load(K + offs, mask=m2, other=0.0).to(tl.float32)
            if PER_DIM:
                c = tl.load(CUM + offs, mask=m2, other=0.0).to(tl.float32)
                diff = tl.where(causal[:, :, None], c[:, None, :] - c[None, :, :], float("-inf"))
                w = da[:, :, None] * tl.exp(diff)
            else:  # da already holds dA * exp(c_t - c_s), zero above the diagonal
                w = da[:, :, None]
            dq = tl.sum(w * k[None, :, :], axis=1)
            dk = tl.sum(w * q[:, None, :], axis=0)
            tl.store(DQ + offs, dq.to(DQ.dtype.element_ty), mask=m2)
            tl.store(DK + offs, dk.to(DK.dtype.element_ty), mask=m2)

    return scores_kernel, grads_kernel


def _blocks(c: int, d: int) -> tuple[int, int]:
    bc = max(2, 1 << (c - 1).bit_length())
    bd = max(2, min(32, 1 << (d - 1).bit_length()))
    return bc, bd


def _flat(q, k, cum):
    """``(..., C, D)`` inputs as contiguous ``(N, C, D)``; ``cum`` as ``(N, C, D)`` or ``(N, C)``."""
    c, d = q.shape[-2], q.shape[-1]
    per_dim = cum.dim() == q.dim()
    q3 = q.reshape(-1, c, d).contiguous()
    k3 = k.reshape(-1, c, d).contiguous()
    cum3 = cum.reshape(-1, c, d).contiguous() if per_dim else cum.reshape(-1, c).contiguous()
    return q3, k3, cum3, per_dim


def intra_scores(q: torch.Tensor, k: torch.Tensor, cum: torch.Tensor) -> torch.Tensor:
    """Masked decayed scores ``A: (..., C, C)`` of ``q, k: (..., C, d_k)`` and ``cum: (..., C[, d_k])``."""
    check_usable(q)
    q3, k3, cum3, per_dim = _flat(q, k, cum)
    n, c, d = q3.shape
    out = torch.empty(n, c, c, device=q.device, dtype=q.dtype)
    if n:
        bc, bd = _blocks(c, d)
        _kernels()[0][(n,)](q3, k3, cum3, out, d, C=c, BC=bc, BD=bd, PER_DIM=per_dim)
    return out.reshape(*q.shape[:-1], c)


def intra_grads(d_scores: torch.Tensor, q: torch.Tensor, k: torch.Tensor, cum: torch.Tensor):
    """``(dq, dk, d_cum)`` of :func:`intra_scores` given ``d_scores = dL/dA`` (its upper triangle ignored)."""
    check_usable(q)
    q3, k3, cum3, per_dim = _flat(q, k, cum)
    n, c, d = q3.shape
    da = d_scores.reshape(n, c, c).contiguous()
    dq, dk = torch.empty_like(q3), torch.empty_like(k3)
    if n:
        bc, bd = _blocks(c, d)
        _kernels()[1][(n,)](da, q3, k3, cum3, dq, dk, d, C=c, BC=bc, BD=bd, PER_DIM=per_dim)
    dq, dk = dq.reshape(q.shape), dk.reshape(k.shape)
    d_cum = q * dq - k * dk
    return dq, dk, (d_cum if per_dim else d_cum.sum(-1))
