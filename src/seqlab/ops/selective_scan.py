"""Mamba's selective scan (arXiv 2312.00752), fused: discretisation, diagonal recurrence and read-out.

For channels ``d`` and state size ``N``, with ``delta, x: (batch, L, D)``, ``A: (D, N)``,
``B, C: (batch, L, N)`` and the state ``h: (batch, D, N)``::

    h_t = exp(delta_t A) * h_{t-1} + (delta_t x_t) B_t        (ZOH for A, Euler for B)
    y_t = h_t C_t                                             (sum over N)

:func:`selective_scan` returns ``(y, h_L)``. ``backend="torch"`` runs :func:`seqlab.ops.scan.scan_chunked`
over the materialised ``(batch, L, D, N)`` gates and inputs; ``backend="triton"`` runs one Triton program
per (batch, block of channels) that keeps ``h`` in registers, so no ``(L, D, N)`` tensor is made in the
forward. Its backward recomputes the states chunk by chunk from checkpoints saved every ``chunk`` steps
(``O(L / chunk * D * N)`` memory plus a ``chunk * D * N`` scratch buffer) and runs the recurrence's
adjoint backwards in time::

    dh_t    = dh_{t+1} * exp(delta_{t+1} A) + dy_t C_t          (dh_L = dL/dh_L)
    dC_t    = sum_d dy_t[d] h_t[d]          dB_t = sum_d dh_t[d] delta_t[d] x_t[d]
    dx_t    = delta_t sum_n dh_t B_t        d delta_t = x_t sum_n dh_t B_t + sum_n dh_t h_{t-1} a_t A
    dA      = sum_t delta_t dh_t h_{t-1} a_t                       (a_t = exp(delta_t A))

:func:`selective_scan_reference` is the step-by-step loop both are tested against. The Triton kernels
run on CUDA tensors or, under ``TRITON_INTERPRET=1``, on CPU tensors (how the tests run them).
"""

from __future__ import annotations

import functools

import torch

from seqlab.ops import gla_triton
from seqlab.ops.scan import scan_chunked

BACKENDS = ("torch", "triton")


def _check(delta, A, B, C, x, h0) -> None:
    if x.dim() != 3 or delta.shape != x.shape:
        raise ValueError(
            "selective_scan expects delta and x of shape (batch, L, D), "
            f"got {tuple(delta.shape)}, {tuple(x.shape)}"
        )
    bsz, length, d = x.shape
    if length == 0:
        raise ValueError("selective_scan expects a non-empty sequence (L >= 1), got L = 0")
    if A.dim() != 2 or A.shape[0] != d:
        raise ValueError(f"selective_scan expects A of shape (D={d}, N), got {tuple(A.shape)}")
    n = A.shape[1]
    for name, t in (("B", B), ("C", C)):
        if tuple(t.shape) != (bsz, length, n):
            raise ValueError(
                f"selective_scan expects {name} of shape {(bsz, length, n)}, got {tuple(t.shape)}"
            )
    if h0 is not None and tuple(h0.shape) != (bsz, d, n):
        raise ValueError(f"selective_scan expects h0 of shape {(bsz, d, n)}, got {tuple(h0.shape)}")


def selective_scan_reference(delta, A, B, C, x, h0=None):
    """The plain loop, one step at a time. Returns ``(y, h_L)``."""
    _check(delta, A, B, C, x, h0)
    h = h0 if h0 is not None else x.new_zeros(x.shape[0], x.shape[2], A.shape[1])
    ys = []
    for t in range(x.shape[1]):
        d = delta[:, t, :, None]
        h = torch.exp(d * A) * h + d * x[:, t, :, None] * B[:, t, None, :]
        ys.append((h * C[:, t, None, :]).sum(-1))
    return torch.stack(ys, dim=1), h


def _torch_scan(delta, A, B, C, x, h0, chunk):
    d = delta[..., None]
    h = scan_chunked(torch.exp(d * A), d * x[..., None] * B[:, :, None, :], h0, chunk=min(chunk, x.shape[1]))
    return torch.einsum("bldn,bln->bld", h, C), h[:, -1]


def selective_scan(delta, A, B, C, x, h0=None, *, chunk: int = 64, backend: str | None = None):
    """``(y, h_L)`` of the selective scan (module docstring).

    ``backend``: "torch", "triton", or None (Triton for CUDA tensors when installed, else PyTorch).
    """
    _check(delta, A, B, C, x, h0)
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    if backend is None:
        backend = "triton" if x.is_cuda and gla_triton.triton_installed() else "torch"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None (automatic), got {backend!r}")
    if backend == "torch":
        return _torch_scan(delta, A, B, C, x, h0, chunk)
    gla_triton.check_usable(x)
    if h0 is None:
        h0 = x.new_zeros(x.shape[0], x.shape[2], A.shape[1])
    return _SelectiveScan.apply(delta, A, B, C, x, h0, chunk)


@functools.cache
def _kernels():
    import triton
    import triton.language as tl

    @triton.jit
    def forward_kernel(
        DELTA, A, B, C, X, H0, Y, HF, CKPT, L, D, N, NCK, K: tl.constexpr, BD: tl.constexpr, BN: tl.constexpr
    ):
        b = tl.program_id(0).to(tl.int64)
        dd = tl.program_id(1) * BD + tl.arange(0, BD)
        nn = tl.arange(0, BN)
        md, mn = dd < D, nn < N
        m2 = md[:, None] & mn[None, :]
        a_mat = tl.load(A + dd[:, None] * N + nn[None, :], mask=m2, other=0.0).to(tl.float32)
        h = tl.load(H0 + b * D * N + dd[:, None] * N + nn[None, :], mask=m2, other=0.0).to(tl.float32)
        for t in range(0, L):
            if t % K == 0:  # the state entering chunk t // K, for the backward's recomputation
                tl.store(CKPT + ((b * NCK + t // K) * D + dd[:, None]) * N + nn[None, :], h, mask=m2)
            row = (b * L + t) * D + dd
            dl = tl.load(DELTA + row, mask=md, other=0.0).to(tl.float32)
            xv = tl.load(X + row, mask=md, other=0.0).to(tl.float32)
            bv = tl.load(B + (b * L + t) * N + nn, mask=mn, other=0.0).to(tl.float32)
            cv = tl.load(C + (b * L + t) * N + nn, mask=mn, other=0.0).to(tl.float32)
            h = tl.exp(dl[:, None] * a_mat) * h + (dl * xv)[:, None] * bv[None, :]
            tl.store(Y + row, tl.sum(h * cv[None, :], axis=1).to(Y.dtype.element_ty), mask=md)
        tl.store(HF + b * D * N + dd[:, None] * N + nn[None, :], h.to(HF.dtype.element_ty), mask=m2)

    @triton.jit
    def backward_kernel(
        DELTA, A, B, C, X, DY, DHF, CKPT, SCRATCH, DDELTA, DX, DBP, DCP, DAP, DH0,
        L, D, N, NCK, NDB, K: tl.constexpr, BD: tl.constexpr, BN: tl.constexpr,
    ):  # fmt: skip
        b = tl.program_id(0).to(tl.int64)
        db = tl.program_id(1)
        dd = db * BD + tl.arange(0, BD)
        nn = tl.arange(0, BN)
        md, mn = dd < D, nn < N
        m2 = md[:, None] & mn[None, :]
        a_mat = tl.load(A + dd[:, None] * N + nn[None, :], mask=m2, other=0.0).to(tl.float32)
        dh = tl.load(DHF + b * D * N + dd[:, None] * N + nn[None, :], mask=m2, other=0.0).to(tl.float32)
        da_acc = tl.zeros((BD, BN), dtype=tl.float32)
        scratch = SCRATCH + b * K * D * N  # this program's rows: (K, D, N), columns dd
        for jj in range(0, NCK):
            j = NCK - 1 - jj
            start = ((b * NCK + j) * D + dd[:, None]) * N + nn[None, :]
            h = tl.load(CKPT + start, mask=m2, other=0.0)
            for i in range(0, K):  # recompute the chunk's states (steps past L are identities)
                t = j * K + i
                tv = t + tl.zeros((BD,), dtype=tl.int32)  # scalar conditions as vectors: int1 masks
                tn = t + tl.zeros((BN,), dtype=tl.int32)
                mt = md & (tv < L)
                row = (b * L + t) * D + dd
                dl = tl.load(DELTA + row, mask=mt, other=0.0).to(tl.float32)
                xv = tl.load(X + row, mask=mt, other=0.0).to(tl.float32)
                bv = tl.load(B + (b * L + t) * N + nn, mask=mn & (tn < L), other=0.0).to(tl.float32)
                h = tl.exp(dl[:, None] * a_mat) * h + (dl * xv)[:, None] * bv[None, :]
                tl.store(scratch + (i * D + dd[:, None]) * N + nn[None, :], h, mask=m2)
            tl.debug_barrier()
            for ii in range(0, K):
                i = K - 1 - ii
                t = j * K + i
                tv = t + tl.zeros((BD,), dtype=tl.int32)
                tn = t + tl.zeros((BN,), dtype=tl.int32)
                i2 = i + tl.zeros((BD, BN), dtype=tl.int32)
                mt = md & (tv < L)
                mtn = mn & (tn < L)
                row = (b * L + t) * D + dd
                dl = tl.load(DELTA + row, mask=mt, other=0.0).to(tl.float32)
                xv = tl.load(X + row, mask=mt, other=0.0).to(tl.float32)
                dy = tl.load(DY + row, mask=mt, other=0.0).to(tl.float32)
                bv = tl.load(B + (b * L + t) * N + nn, mask=mtn, other=0.0).to(tl.float32)
                cv = tl.load(C + (b * L + t) * N + nn, mask=mtn, other=0.0).to(tl.float32)
                h_t = tl.load(scratch + (i * D + dd[:, None]) * N + nn[None, :], mask=m2, other=0.0)
                prev = scratch + ((i - 1) * D + dd[:, None]) * N + nn[None, :]
                prev_s = tl.load(prev, mask=m2 & (i2 > 0), other=0.0)
                prev_c = tl.load(CKPT + start, mask=m2 & (i2 == 0), other=0.0)
                h_prev = prev_s + prev_c
                dh += dy[:, None] * cv[None, :]
                part = (b * L + t) * NDB + db
                tl.store(DCP + part * N + nn, tl.sum(dy[:, None] * h_t, axis=0), mask=mtn)
                tl.store(DBP + part * N + nn, tl.sum(dh * (dl * xv)[:, None], axis=0), mask=mtn)
                du = tl.sum(dh * bv[None, :], axis=1)
                a = tl.exp(dl[:, None] * a_mat)
                g = dh * h_prev * a  # dL/d(delta_t A) elementwise
                tl.store(DX + row, (du * dl).to(DX.dtype.element_ty), mask=mt)
                tl.store(
                    DDELTA + row, (du * xv + tl.sum(g * a_mat, axis=1)).to(DDELTA.dtype.element_ty), mask=mt
                )
                da_acc += g * dl[:, None]
                dh = dh * a
            tl.debug_barrier()
        tl.store(DAP + b * D * N + dd[:, None] * N + nn[None, :], da_acc, mask=m2)
        tl.store(DH0 + b * D * N + dd[:, None] * N + nn[None, :], dh.to(DH0.dtype.element_ty), mask=m2)

    return forward_kernel, backward_kernel


def _blocks(d: int, n: int) -> tuple[int, int]:
    return max(2, min(32, 1 << (d - 1).bit_length())), max(2, 1 << (n - 1).bit_length())


class _SelectiveScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, delta, A, B, C, x, h0, chunk):
        delta, A, B, C, x, h0 = (t.contiguous() for t in (delta, A, B, C, x, h0))
        bsz, length, d = x.shape
        n = A.shape[1]
        bd, bn = _blocks(d, n)
        nck = -(-length // chunk)
        y = torch.empty_like(x)
        hf = torch.empty_like(h0)
        ckpt = torch.empty(bsz, nck, d, n, device=x.device, dtype=torch.float32)
        grid = (bsz, -(-d // bd))
        _kernels()[0][grid](delta, A, B, C, x, h0, y, hf, ckpt, length, d, n, nck, K=chunk, BD=bd, BN=bn)
        ctx.save_for_backward(delta, A, B, C, x, ckpt)
        ctx.chunk = chunk
        return y, hf

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy, dhf):
        delta, A, B, C, x, ckpt = ctx.saved_tensors
        bsz, length, d = x.shape
        n = A.shape[1]
        bd, bn = _blocks(d, n)
        ndb = -(-d // bd)
        dy = torch.zeros_like(x) if dy is None else dy.contiguous()
        dhf = x.new_zeros(bsz, d, n) if dhf is None else dhf.contiguous()
        f32 = dict(device=x.device, dtype=torch.float32)
        scratch = torch.empty(bsz, ctx.chunk, d, n, **f32)
        ddelta, dx = torch.empty_like(delta), torch.empty_like(x)
        dbp, dcp = torch.zeros(bsz, length, ndb, n, **f32), torch.zeros(bsz, length, ndb, n, **f32)
        dap, dh0 = torch.empty(bsz, d, n, **f32), torch.empty(bsz, d, n, device=x.device, dtype=x.dtype)
        _kernels()[1][(bsz, ndb)](
            delta, A, B, C, x, dy, dhf, ckpt, scratch, ddelta, dx, dbp, dcp, dap, dh0,
            length, d, n, ckpt.shape[1], ndb, K=ctx.chunk, BD=bd, BN=bn,
        )  # fmt: skip
        dA = dap.sum(0).to(A.dtype)
        return ddelta, dA, dbp.sum(2).to(B.dtype), dcp.sum(2).to(C.dtype), dx, dh0, None
