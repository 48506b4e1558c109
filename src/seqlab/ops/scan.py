"""Scans for diagonal (element-wise) linear recurrences.

    h_t = a_t * h_{t-1} + b_t,        h_{-1} = h0 (zeros by default)

``a`` and ``b`` have the time axis at dim 1: ``b: (batch, length, *state)`` and ``a``
broadcastable to ``b``; both may be complex. Every function returns all states
``h: (batch, length, *state)``; the final state is ``h[:, -1]``.

Three evaluations of the same recurrence:

- :func:`scan_sequential` -- the plain loop, the reference every fast path is tested against;
- :func:`scan_associative` -- Hillis-Steele doubling with the associative operator
  ``(a1, b1) . (a2, b2) = (a1 a2, a2 b1 + b2)``: log2(L) vectorised steps, O(L log L) work;
- :func:`scan_chunked` -- the sequence cut into chunks of ``chunk`` steps; a loop over the ``chunk``
  positions advances every chunk at once (from a zero state), a doubling scan runs over the
  chunk-final states, then one correction ``h_t += (prod_{s<=t in chunk} a_s) * carry``. O(L) work
  in ``chunk + log2(L / chunk)`` vectorised steps, so time grows linearly with L; the backward is
  the same scan run backwards in time. It multiplies gates only (no division and no ``exp`` of
  cumulative-gate differences), so ``|a| <= 1`` can neither overflow nor make NaN gradients.
"""

from __future__ import annotations

import torch


def _check(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    if b.dim() < 2:
        raise ValueError(f"scan expects b of shape (batch, length, ...), got shape {tuple(b.shape)}")
    try:
        a = torch.broadcast_to(a, b.shape)
    except RuntimeError as err:
        raise ValueError(
            f"scan expects a broadcastable to b {tuple(b.shape)}, got a {tuple(a.shape)}"
        ) from err
    if h0 is not None and h0.shape != b.shape[:1] + b.shape[2:]:
        raise ValueError(
            f"scan expects h0 of shape {tuple(b.shape[:1] + b.shape[2:])}, got {tuple(h0.shape)}"
        )
    return a


def scan_sequential(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Reference: ``h_t = a_t h_{t-1} + b_t`` one step at a time."""
    a = _check(a, b, h0)
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0.to(b.dtype)
    out = []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


def _doubling(a: torch.Tensor, b: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inclusive scan along ``dim``: returns (cumulative products of a, states from zero)."""
    n = a.shape[dim]
    d = 1
    while d < n:
        a_prev = a.narrow(dim, 0, n - d)
        b_prev = b.narrow(dim, 0, n - d)
        a_cur = a.narrow(dim, d, n - d)
        b_cur = b.narrow(dim, d, n - d)
        b = torch.cat([b.narrow(dim, 0, d), a_cur * b_prev + b_cur], dim=dim)
        a = torch.cat([a.narrow(dim, 0, d), a_cur * a_prev], dim=dim)
        d *= 2
    return a, b


def scan_associative(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Parallel (Hillis-Steele) scan over the whole sequence."""
    a = _check(a, b, h0)
    cum_a, h = _doubling(a, b, dim=1)
    if h0 is not None:
        h = h + cum_a * h0.unsqueeze(1)
    return h


def scan_chunked(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, chunk: int = 64
) -> torch.Tensor:
    """Two-level scan: a step loop inside all chunks at once, then doubling across chunk boundaries.

    Differentiable through :class:`_ScanFunction`, whose backward is the same scan run backwards in
    time (see there) instead of autograd through every doubling level.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    a = _check(a, b, h0)
    if h0 is not None:
        h0 = h0.to(b.dtype)
    return _ScanFunction.apply(a, b, h0, chunk)


class _ScanFunction(torch.autograd.Function):
    """``h = scan(a, b, h0)`` with the adjoint recurrence as backward.

    With ``g_t = dL/dh_t`` in total (``dh_t`` given, plus what flows back through ``h_{t+1}``)::

        g_t = dh_t + conj(a_{t+1}) g_{t+1},   db_t = g_t,   da_t = g_t conj(h_{t-1}),   dh0 = conj(a_0) g_0

    (``conj`` is PyTorch's convention for complex gradients and a no-op for real tensors): a scan of
    the same form, run on the time-reversed sequence. Only ``a``, ``h`` and ``h0`` are kept for it,
    not the ``log2(chunk)`` intermediate levels of the doubling scan.
    """

    @staticmethod
    def forward(ctx, a, b, h0, chunk):
        h = _scan_chunked_values(a, b, h0, chunk)
        ctx.save_for_backward(a, h, h0)
        ctx.chunk, ctx.b_complex = chunk, b.is_complex()
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dh):
        a, h, h0 = ctx.saved_tensors
        a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], dim=1).conj()
        g = _scan_chunked_values(a_next.flip(1), dh.flip(1), None, ctx.chunk).flip(1)
        first = torch.zeros_like(h[:, :1]) if h0 is None else h0.unsqueeze(1)
        da = g * torch.cat([first, h[:, :-1]], dim=1).conj()
        dh0 = None
        if h0 is not None and ctx.needs_input_grad[2]:
            dh0 = _real_if(a[:, 0].conj() * g[:, 0], not h0.is_complex())
        return _real_if(da, not a.is_complex()), _real_if(g, not ctx.b_complex), dh0, None


def _real_if(grad: torch.Tensor, real_input: bool) -> torch.Tensor:
    """The gradient of a real input that took part in a complex computation is the real part."""
    return grad.real if real_input and grad.is_complex() else grad


def _scan_chunked_values(a, b, h0, chunk):
    """The values of :func:`scan_chunked` (``a`` already broadcast to ``b``)."""
    bsz, length = b.shape[:2]
    rest = b.shape[2:]
    n = -(-length // chunk)
    pad = n * chunk - length
    if pad:
        a = torch.cat([a, a.new_ones((bsz, pad) + rest)], dim=1)
        b = torch.cat([b, b.new_zeros((bsz, pad) + rest)], dim=1)
    a = a.reshape(bsz, n, chunk, *rest)
    # inside every chunk at once, one position at a time (in place: this runs without autograd)
    local = b.reshape(bsz, n, chunk, *rest).clone()
    cum_a = a.clone()
    for t in range(1, chunk):
        local[:, :, t].addcmul_(a[:, :, t], local[:, :, t - 1])
        cum_a[:, :, t].mul_(cum_a[:, :, t - 1])
    # carry[:, j] = state entering chunk j
    ends = scan_associative(cum_a[:, :, -1], local[:, :, -1], h0)
    first = torch.zeros_like(ends[:, :1]) if h0 is None else h0.unsqueeze(1).to(ends.dtype)
    carry = torch.cat([first, ends[:, :-1]], dim=1)
    h = local.addcmul_(cum_a, carry.unsqueeze(2))
    return h.reshape(bsz, n * chunk, *rest)[:, :length]


def linear_scan(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    method: str = "chunked",
    chunk: int = 64,
) -> torch.Tensor:
    """Dispatch to one of the scans by name: ``sequential``, ``associative`` or ``chunked``."""
    if method == "chunked":
        return scan_chunked(a, b, h0, chunk=chunk)
    if method == "associative":
        return scan_associative(a, b, h0)
    if method == "sequential":
        return scan_sequential(a, b, h0)
    raise ValueError(f"unknown scan method {method!r}; valid: chunked, associative, sequential")
