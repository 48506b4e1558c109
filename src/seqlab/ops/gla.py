"""Gated linear attention: a linear recurrence with a matrix state per head.

    S_t = g_t * S_{t-1} + k_t v_t^T,        o_t = S_t^T q_t,        S_{-1} = S0 (zeros by default)

with ``q, k: (batch, heads, length, d_k)``, ``v: (batch, heads, length, d_v)`` and the state
``S: (batch, heads, d_k, d_v)``. The gate is given by its logarithm ``log_g <= 0``, either one scalar
per head and step, ``(batch, heads, length)`` (retention, Mamba-2 SSD, "simple GLA"), or one per key
dimension, ``(batch, heads, length, d_k)`` (GLA, Yang et al., "Gated Linear Attention Transformers with
Hardware-Efficient Training", arXiv 2312.06635), where ``g_t * S`` scales row ``i`` of ``S`` by
``g_t[i]``. No scaling of ``q`` is applied here; callers scale it.

Evaluations of the same recurrence:

- :func:`gla_recurrent` -- the plain loop over :func:`gla_step`, the reference;
- :func:`gla_chunked` -- chunks of ``C`` steps. With ``c_t = sum_{s<=t in chunk} log_g_s``:
  inside a chunk ``o_t = sum_{s<=t} (q_t . (exp(c_t - c_s) k_s)) v_s`` (a causal "attention" with a
  decay mask), plus ``(exp(c_t) q_t)^T S_in`` from the state entering the chunk; the chunk's state
  ``S_out = exp(c_C) S_in + sum_s (exp(c_C - c_s) k_s) v_s^T`` is passed on. The decay mask is
  built in log space with the upper triangle set to ``-inf`` before ``exp``, so every ``exp`` sees a
  non-positive argument: nothing overflows and no gradient is NaN however strongly the gates decay.
  O(L C d) work, time linear in L. Its backward is written out (:class:`_ChunkedGLA`), and inputs
  longer than ``SPAN_STEPS`` run span by span with the state carried.
- :func:`gla_parallel` -- the same decay mask over the whole sequence, O(L^2) memory.
"""

from __future__ import annotations

import torch

from seqlab import debug
from seqlab.ops import gla_triton


def _compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and getattr(compiler, "is_compiling", lambda: False)())


def _check(q, k, v, log_g, state) -> None:
    for name, t in (("q", q), ("k", k), ("v", v), ("log_g", log_g)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise ValueError(f"gla expects floating-point tensor {name}, got {getattr(t, 'dtype', type(t))}")
    if q.dim() != 4 or k.shape != q.shape:
        raise ValueError(
            "gla expects q and k of shape (batch, heads, length, d_k), "
            f"got {tuple(q.shape)}, {tuple(k.shape)}"
        )
    if v.dim() != 4 or v.shape[:3] != q.shape[:3]:
        raise ValueError(f"gla expects v of shape {tuple(q.shape[:3])} + (d_v,), got {tuple(v.shape)}")
    if log_g.shape not in (q.shape[:3], q.shape):
        raise ValueError(
            f"gla expects log_g of shape {tuple(q.shape[:3])} (scalar gate) or {tuple(q.shape)} "
            f"(per key dim), got {tuple(log_g.shape)}"
        )
    if q.shape[2] == 0:
        raise ValueError("gla expects a non-empty sequence (length >= 1), got length 0")
    # a value check syncs the device (and would break a torch.compile graph): debug mode, eager only
    if debug.enabled() and not _compiling() and not bool((log_g <= 0).all()):
        raise ValueError("gla expects finite log-gates log_g <= 0 (gates in (0, 1]), got positive or NaN")
    want = q.shape[:2] + (q.shape[3], v.shape[3])
    if state is not None and tuple(state.shape) != tuple(want):
        raise ValueError(f"gla expects a state of shape {tuple(want)}, got {tuple(state.shape)}")


def _gate_rows(log_g: torch.Tensor) -> torch.Tensor:
    """Per-step gate ``(B, H)`` or ``(B, H, d_k)`` shaped to scale the rows of a ``(d_k, d_v)`` state."""
    g = log_g.exp()
    return g[..., None] if g.dim() == 3 else g[..., None, None]


def gla_step(q_t, k_t, v_t, log_g_t, state=None):
    """One step: ``q_t, k_t: (B, H, d_k)``, ``v_t: (B, H, d_v)``, ``log_g_t: (B, H)`` or ``(B, H, d_k)``."""
    kv = k_t[..., :, None] * v_t[..., None, :]
    state = kv if state is None else _gate_rows(log_g_t) * state + kv
    return torch.einsum("bhk,bhkv->bhv", q_t, state), state


def gla_recurrent(q, k, v, log_g, initial_state=None):
    """Reference: the recurrence one step at a time. Returns ``(o, final_state)``."""
    _check(q, k, v, log_g, initial_state)
    state = initial_state
    if state is None:
        state = q.new_zeros(q.shape[:2] + (q.shape[3], v.shape[3]))
    outs = []
    for t in range(q.shape[2]):
        o_t, state = gla_step(q[:, :, t], k[:, :, t], v[:, :, t], log_g[:, :, t], state)
        outs.append(o_t)
    return torch.stack(outs, dim=2), state


def _decay_mask(cum: torch.Tensor, per_dim: bool) -> torch.Tensor:
    """``exp(cum_t - cum_s)`` for ``s <= t`` and 0 above the diagonal, masked before ``exp``."""
    n = cum.shape[-2] if per_dim else cum.shape[-1]
    upper = torch.ones(n, n, dtype=torch.bool, device=cum.device).triu(1)
    if per_dim:  # (..., T, D) -> (..., T, S, D)
        diff = cum[..., :, None, :] - cum[..., None, :, :]
        return diff.masked_fill_(upper[..., None], float("-inf")).exp_()
    diff = cum[..., :, None] - cum[..., None, :]
    return diff.masked_fill_(upper, float("-inf")).exp_()


def _causal_scores(q, k, cum, per_dim):
    """Scores ``A[t, s] = q_t . (exp(cum_t - cum_s) k_s)`` for ``s <= t``, else 0; and the decay mask."""
    mask = _decay_mask(cum, per_dim)
    if per_dim:
        return torch.einsum("...td,...sd,...tsd->...ts", q, k, mask), mask
    return (q @ k.transpose(-1, -2)).mul_(mask), mask


def _mm_into(out, a, b):
    """``out += a @ b`` in place over any leading dims (one fused batched matmul, no temporary)."""
    out.flatten(0, -3).baddbmm_(a.flatten(0, -3), b.flatten(0, -3))
    return out


def _pass_states(contrib, lam, initial):
    """States entering each chunk, ``E_0 = S0``, ``E_{j+1} = lam_j E_j + contrib_j``; and the final state."""
    state = initial if initial is not None else contrib.new_zeros(contrib[:, :, 0].shape)
    entering = []
    for c_j, l_j in zip(contrib.unbind(dim=2), lam.unbind(dim=2)):
        entering.append(state)
        state = torch.addcmul(c_j, l_j, state)
    return torch.stack(entering, dim=2), state


def _chunk_gates(cum, per_dim):
    """``exp(c_t)``, ``exp(c_C - c_t)``: ``(..., C, d_k or 1)``; ``exp(c_C)``: ``(..., d_k or 1, 1)``."""
    gate = cum if per_dim else cum[..., None]
    last = gate[..., -1:, :]
    return gate.exp(), (last - gate).exp(), last.exp().transpose(-1, -2)


def _intra_backward(d_scores, q, k, scores, mask, per_dim):
    """Gradients of ``scores = q . (mask * k)`` w.r.t. ``q``, ``k`` and the in-chunk cumulative gates."""
    if per_dim:
        w = d_scores[..., None] * mask  # (..., T, S, D)
        dq = torch.einsum("...tsd,...sd->...td", w, k)
        dk = torch.einsum("...tsd,...td->...sd", w, q)
        p = w * q[..., :, None, :] * k[..., None, :, :]
        return dq, dk, p.sum(-2) - p.sum(-3)
    p = d_scores * scores
    w = d_scores.mul_(mask)
    return w @ k, w.transpose(-1, -2) @ q, p.sum(-1) - p.sum(-2)


class _ChunkedGLA(torch.autograd.Function):
    """The chunk-wise recurrence over ``(B, H, n, C, d)`` chunks with a hand-written backward.

    Autograd through the same forward records ~60 small ops per call; the backward below uses the
    same eight batched matmuls autograd would, with far fewer element-wise passes. With
    ``gamma_t = exp(c_t)``, ``beta_t = exp(c_C - c_t)``, ``lam = exp(c_C)``, ``A`` the masked scores,
    ``E`` the entering state and ``G = dL/dS_out``:
    ``dE = (gamma q)^T dO + lam G``; ``dv = A^T dO + (beta k) G``; ``dq = dA' k + gamma dO E^T``;
    ``dk = dA'^T q + beta v G^T`` (``dA' = (dO v^T) * mask``); the gates collect ``dmask * mask``
    and the products with ``gamma``, ``beta`` and ``lam``.
    """

    @staticmethod
    def forward(ctx, q, k, v, cum, initial, backend="torch"):
        per_dim = cum.dim() == q.dim()
        gam, beta, lam = _chunk_gates(cum, per_dim)
        if backend == "triton":  # fused in-chunk scores; the decay tensor is rebuilt in the backward
            scores, mask = gla_triton.intra_scores(q, k, cum), None
        else:
            scores, mask = _causal_scores(q, k, cum, per_dim)
        entering, final = _pass_states((k * beta).transpose(-1, -2) @ v, lam, initial)
        ctx.save_for_backward(q, k, v, cum, scores, mask, entering)
        ctx.has_initial, ctx.backend = initial is not None, backend
        return _mm_into(scores @ v, q * gam, entering), final

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_final):
        q, k, v, cum, scores, mask, entering = ctx.saved_tensors
        per_dim = cum.dim() == q.dim()
        gam, beta, lam = _chunk_gates(cum, per_dim)
        qg, kb = q * gam, k * beta
        # reverse pass over chunks: G_j = dL/dS_out_j, G_{n-1} = d_final, G_{j-1} = dL/dE_j
        local = qg.transpose(-1, -2) @ d_out
        g, grads_out = d_final, []
        for j in reversed(range(q.shape[2])):
            grads_out.append(g)
            g = torch.addcmul(local[:, :, j], lam[:, :, j], g)
        g_out = torch.stack(grads_out[::-1], dim=2)
        dv = _mm_into(scores.transpose(-1, -2) @ d_out, kb, g_out)
        if ctx.backend == "triton":
            dq, dk, d_cum = gla_triton.intra_grads(d_out @ v.transpose(-1, -2), q, k, cum)
        else:
            dq, dk, d_cum = _intra_backward(d_out @ v.transpose(-1, -2), q, k, scores, mask, per_dim)
        d_qg, d_kb = d_out @ entering.transpose(-1, -2), v @ g_out.transpose(-1, -2)
        dq.addcmul_(d_qg, gam)
        dk.addcmul_(d_kb, beta)
        through_beta = d_kb.mul_(kb)
        d_gate = d_qg.mul_(qg).sub_(through_beta)  # (..., C, d_k)
        d_last = through_beta.sum(-2) + (g_out * entering).sum(-1) * lam[..., 0]  # (..., d_k)
        if not per_dim:
            d_gate, d_last = d_gate.sum(-1), d_last.sum(-1, keepdim=True)
        d_cum = d_cum + d_gate
        if per_dim:
            d_cum[..., -1, :] += d_last
        else:
            d_cum[..., -1] += d_last[..., 0]
        return dq, dk, dv, d_cum.to(cum.dtype), (g if ctx.has_initial else None), None


SPAN_STEPS = 2048  # gla_chunked runs longer inputs span by span (a multiple of the chunk)


BACKENDS = ("torch", "triton")


def pick_backend(backend: str | None, q: torch.Tensor) -> str:
    """``backend`` checked, or by default "triton" for CUDA tensors when Triton is installed, else "torch"."""
    if backend is None:
        return "triton" if q.is_cuda and gla_triton.triton_installed() else "torch"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None (automatic), got {backend!r}")
    if backend == "triton":
        gla_triton.check_usable(q)
    return backend


def gla_chunked(q, k, v, log_g, initial_state=None, chunk: int | None = None, backend: str | None = None):
    """Chunk-wise evaluation (see module docstring). Returns ``(o, final_state)``.

    ``chunk`` defaults to 64 for a scalar gate and 16 for a per-key-dim gate, whose ``(C, C, d_k)``
    decay mask makes the in-chunk work grow with ``C``: fwd+bwd at L=1024, 4 heads, d 64 on 2 CPU
    threads measured 42 ms at C=16 against 241 ms at C=64.

    ``backend``: "torch" (plain PyTorch), "triton" (the in-chunk scores and their gradients as fused
    Triton kernels, :mod:`seqlab.ops.gla_triton`; CUDA, or CPU under ``TRITON_INTERPRET=1``), or None:
    Triton for CUDA tensors when it is installed, else PyTorch.
    """
    per_dim = log_g.dim() == 4 if isinstance(log_g, torch.Tensor) else False
    chunk = (16 if per_dim else 64) if chunk is None else chunk
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    _check(q, k, v, log_g, initial_state)
    backend = pick_backend(backend, q)
    span = max(chunk, SPAN_STEPS // chunk * chunk)
    if q.shape[2] <= span:
        return _chunked(q, k, v, log_g, initial_state, chunk, backend)
    # long inputs in spans of whole chunks, the state carried: the working set stays in cache
    outs, state = [], initial_state
    for parts in zip(*(t.split(span, dim=2) for t in (q, k, v, log_g))):
        o, state = _chunked(*parts, state, chunk, backend)
        outs.append(o)
    return torch.cat(outs, dim=2), state


def _chunked(q, k, v, log_g, initial_state, chunk, backend="torch"):
    bsz, heads, length, _ = q.shape
    per_dim = log_g.dim() == 4
    d_v = v.shape[-1]
    n = -(-length // chunk)
    pad = n * chunk - length
    if pad:  # padded steps: gate 1, k = 0, so the state passes through unchanged
        q, k, v = (torch.nn.functional.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
        log_g = torch.nn.functional.pad(log_g, (0, 0, 0, pad) if per_dim else (0, pad))
    q, k, v = (t.reshape(bsz, heads, n, chunk, t.shape[-1]) for t in (q, k, v))
    cum = log_g.reshape(bsz, heads, n, chunk, *log_g.shape[3:]).cumsum(dim=3)
    out, state = _ChunkedGLA.apply(q, k, v, cum, initial_state, backend)
    return out.reshape(bsz, heads, n * chunk, d_v)[:, :, :length], state


def gla_parallel(q, k, v, log_g, initial_state=None):
    """Whole-sequence evaluation with an ``(L, L)`` decay mask (O(L^2) memory; short sequences)."""
    _check(q, k, v, log_g, initial_state)
    per_dim = log_g.dim() == 4
    cum = log_g.cumsum(dim=2)
    out = _causal_scores(q, k, cum, per_dim)[0] @ v
    gate = cum if per_dim else cum[..., None]
    if initial_state is not None:
        out = out + (q * gate.exp()) @ initial_state
    last = gate[:, :, -1:]
    state = (k * (last - gate).exp()).transpose(-1, -2) @ v
    if initial_state is not None:
        state = state + last.exp().transpose(-1, -2) * initial_state
    return out, state
