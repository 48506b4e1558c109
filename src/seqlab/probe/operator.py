"""The effective interaction operator ``W(X)`` of any sequence mixer.

Paper: "How Many Heads Make an SSM? A Unified Framework for Attention and State Space Models"
(arXiv 2512.15115). A sequence map is written as ``y_i = sum_j W_ij(X) v_j``: the mixer's output at
position ``i`` is a weighted sum of values at positions ``j``, with weights that may depend on the
whole input ``X`` through the mixer's gates (attention scores, selective ``delta``, data-controlled
decays). Where a mixer is linear in its values once its gates are fixed, ``W`` is exact and has the
structure of the mixer:

- ``"head"``  ``(B, H, L, L)``: one scalar weight per head and pair, shared by the head's value
  channels -- attention (softmax probabilities), linear attention and retention
  (``W_ij = q_i . k_j prod_{r=j+1..i} g_r``), GateLoop's surrogate attention, Mamba-2's SSD
  (``W_ij = C_i . B_j dt_j exp(sum_{r=j+1..i} dt_r A_h) + D_h [i = j]``);
- ``"channel"`` ``(B, D, L, L)``: one weight per channel -- Mamba/S6
  (``W^d_ij = sum_n C_in exp(A_dn sum_{r=j+1..i} delta_rd) delta_jd B_jn + D_d [i = j]``) and the
  channel-wise LTI convolutions (S4, S4D, LSSL, CKConv: ``W^d_ij = K^d_{i-j} + D_d [i = j]``);
- ``"full"`` ``(B, L, L, D, D)``: ``W_ij`` a ``D x D`` block -- linear maps that mix channels
  (LRU, S5), where ``W`` is the exact (input-independent) Jacobian.

Each exact operator comes with the ``values`` it acts on and a ``readout`` (the mixer's remaining,
position-wise part: output projection, output gate, normalisation) such that
``readout(apply_operator(W, values)) == mixer(x)`` -- the tests check that for every mixer. The
operators reuse each mixer's own projections and its shared op (``mix`` for attention,
:func:`~seqlab.ops.gla.gla_chunked` for the matrix-state mixers, the surrogate attention of
GateLoop) run on identity values: an op that is linear in ``v`` returns ``W`` itself when ``v`` is
the ``L x L`` identity. LTI mixers are probed with unit impulses. Mamba's ``W`` is the closed form
above (the tests compare it with the mixer's scan).

Every other mixer (LSTM, GRU, Elman RNN, RMT, Samba, and any mixer without a rule) is nonlinear in
its values; there ``W`` is ``"jacobian"`` ``(B, L, L, D, D)``, ``W[b, i, j] = dy_i / dx_j`` at ``X``,
the local linearisation of the map (computed by autograd, one sequence at a time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from seqlab.mixers.attention import Attention
from seqlab.mixers.base import Mixer
from seqlab.mixers.ckconv import CKConv
from seqlab.mixers.gateloop import GateLoop, complex_dtype, gateloop_attention
from seqlab.mixers.linear_attention import LinearAttention
from seqlab.mixers.mamba import Mamba
from seqlab.mixers.mamba2 import Mamba2
from seqlab.mixers.matrix_state import MatrixStateMixer
from seqlab.mixers.ssm_base import ConvSSM, DiagonalMIMO
from seqlab.ops.gla import gla_chunked
from seqlab.registry import Paper, register

PAPER = "How Many Heads Make an SSM? A Unified Framework for Attention and State Space Models"
STRUCTURES = ("head", "channel", "full", "jacobian")


@dataclass(frozen=True)
class Interaction:
    """A mixer's interaction operator at one input.

    ``W``: the operator (layout per ``structure``, see the module docstring); ``values``: what it acts
    on -- ``(B, H, L, d_v)`` for "head", ``(B, D, L)`` for "channel", ``(B, L, D)`` for "full" and
    "jacobian"; ``readout``: mixed values (same layout) -> the mixer's output ``(B, L, d_model)``;
    ``exact``: ``readout(mix())`` reproduces the mixer (False for a local Jacobian).
    """

    W: torch.Tensor
    structure: str
    values: torch.Tensor
    readout: Callable[[torch.Tensor], torch.Tensor]
    exact: bool

    def mix(self) -> torch.Tensor:
        """``sum_j W_ij v_j`` in the layout of ``values``."""
        return apply_operator(self.W, self.values, self.structure)

    def output(self) -> torch.Tensor:
        """``readout(sum_j W_ij v_j)``: the mixer's output when ``exact``."""
        return self.readout(self.mix())


def apply_operator(W: torch.Tensor, values: torch.Tensor, structure: str) -> torch.Tensor:
    """``y_i = sum_j W_ij v_j`` for an operator of the given structure (see :class:`Interaction`)."""
    if structure == "head":
        return torch.einsum("bhij,bhjv->bhiv", W, values.to(W.dtype))
    if structure == "channel":
        return torch.einsum("bdij,bdj->bdi", W, values.to(W.dtype))
    if structure in ("full", "jacobian"):
        return torch.einsum("bijde,bje->bid", W, values.to(W.dtype))
    raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")


def _eye(length: int, like: torch.Tensor) -> torch.Tensor:
    return torch.eye(length, dtype=like.dtype, device=like.device)


# -- exact rules ---------------------------------------------------------------------------------
def _attention(m: Attention, x: torch.Tensor) -> Interaction:
    b, length, _ = x.shape
    pos = torch.arange(length, device=x.device).expand(b, length)
    q, k, v = m.project(x, None)  # positions None = arange, as forward without positions
    eye = _eye(length, x).expand(b, m.n_heads, length, length)
    if m.window is not None:
        rel = torch.arange(length, device=x.device)[:, None] - torch.arange(length, device=x.device)
        allowed = ((rel >= 0) & (rel < m.window))[None, None]
        W = m.mix(q, k, eye, pos, pos, allowed)
    else:
        W = m.mix(q, k, eye, pos, pos, is_causal=m.causal)
    return Interaction(W, "head", v, lambda o: m.out(o.transpose(1, 2).flatten(2)), True)


def _matrix_state(m: MatrixStateMixer, x: torch.Tensor) -> Interaction:
    q, k, v, log_g = m._qkvg(x)
    b, h, length, _ = q.shape
    eye = _eye(length, x).expand(b, h, length, length)
    if isinstance(m, LinearAttention) and m.normalize:
        ones = torch.ones_like(eye[..., :1])
        o = gla_chunked(q, k, torch.cat([eye, ones], dim=-1), log_g, chunk=m.chunk)[0]
        W = o[..., :-1] / (o[..., -1:] + m.eps)
        return Interaction(W, "head", v[..., :-1], lambda o: m.out(o.transpose(1, 2).flatten(2)), True)
    W = gla_chunked(q, k, eye, log_g, chunk=m.chunk)[0]
    return Interaction(W, "head", v, lambda o: m._output(o, x), True)


def _gateloop(m: GateLoop, x: torch.Tensor) -> Interaction:
    log_mag, phase, q, k, v = m._project(x)
    b, length, h, dk = q.shape
    s0 = torch.zeros(b, h, dk, length, dtype=complex_dtype(x.dtype), device=x.device)
    eye = _eye(length, x).view(1, length, 1, length).expand(b, length, h, length)
    y, _ = gateloop_attention(s0, log_mag, phase, q, k, eye)  # (b, t, h, s)
    W = y.permute(0, 2, 1, 3)
    return Interaction(W, "head", v.permute(0, 2, 1, 3), lambda o: m._finish(x, o.permute(0, 2, 1, 3)), True)


def _mamba2(m: Mamba2, x: torch.Tensor) -> Interaction:
    conv = m.init_state(x.shape[0], x.device, x.dtype)["conv"]
    (q, k, xh, log_g), z, _, _ = m._project(x, conv)
    b, h, length, _ = q.shape
    eye = _eye(length, x)
    W = gla_chunked(q, k, eye.expand(b, h, length, length), log_g, chunk=m.chunk)[0]
    W = W + m.D[:, None, None] * eye

    def readout(o):
        return m.out_proj(m.norm(o.transpose(1, 2).flatten(2) * F.silu(z)))

    return Interaction(W, "head", xh, readout, True)


def mamba_operator(delta, A, B, C, D) -> torch.Tensor:
    """Closed form of the selective scan as a matrix, ``(b, d_inner, L, L)``.

    ``W^d_ij = sum_n C_in exp(A_dn sum_{r=j+1..i} delta_rd) delta_jd B_jn`` for ``j <= i`` (0 above
    the diagonal) plus ``D_d`` on the diagonal; ``delta (b, L, d)``, ``A (d, N)``, ``B, C (b, L, N)``.
    """
    length = delta.shape[1]
    cum = delta.cumsum(1)
    lag = cum[:, :, None] - cum[:, None]  # (b, i, j, d): sum of delta over r = j+1..i
    causal = torch.ones(length, length, dtype=torch.bool, device=delta.device).tril()
    lag = torch.where(causal[None, :, :, None], lag, torch.zeros_like(lag))
    decay = torch.exp(lag[..., None] * A) * causal[None, :, :, None, None]  # (b, i, j, d, N)
    W = torch.einsum("bin,bijdn,bjn,bjd->bdij", C, decay, B, delta)
    return W + D[:, None, None] * torch.eye(length, dtype=W.dtype, device=W.device)


def _mamba(m: Mamba, x: torch.Tensor) -> Interaction:
    conv = m.init_state(x.shape[0], x.device, x.dtype)[0]
    delta, B, C, xs, z, _ = m._inputs(x, conv)
    W = mamba_operator(delta, -torch.exp(m.A_log.to(x.dtype)), B, C, m.D)
    return Interaction(
        W, "channel", xs.transpose(1, 2), lambda o: m.out_proj(o.transpose(1, 2) * F.silu(z)), True
    )


def _lti_channel(m: Mixer, x: torch.Tensor) -> Interaction:
    """Channel-wise LTI map: column ``j`` of every channel's operator is the response to an impulse
    at time ``j`` in all channels at once (one batch row per ``j``)."""
    b, length, d = x.shape
    impulses = _eye(length, x)[:, :, None].expand(length, length, d).contiguous()
    response = m(impulses)  # (j, i, d)
    W = response.permute(2, 1, 0).expand(b, d, length, length)
    return Interaction(W, "channel", x.transpose(1, 2), lambda o: o.transpose(1, 2), True)


def _lti_full(m: Mixer, x: torch.Tensor) -> Interaction:
    """A linear map that mixes channels (LRU, S5): impulses at every (time, channel)."""
    b, length, d = x.shape
    impulses = _eye(length * d, x).view(length * d, length, d)
    response = m(impulses).view(length, d, length, d)  # (j, e, i, d)
    W = response.permute(2, 0, 3, 1).expand(b, length, length, d, d)
    return Interaction(W, "full", x, lambda o: o, True)


# class -> rule, most specific first (checked with isinstance in this order)
RULES: list[tuple[type, Callable[[Mixer, torch.Tensor], Interaction]]] = [
    (Attention, _attention),
    (MatrixStateMixer, _matrix_state),
    (GateLoop, _gateloop),
    (Mamba2, _mamba2),
    (Mamba, _mamba),
    (ConvSSM, _lti_channel),
    (CKConv, _lti_channel),
    (DiagonalMIMO, _lti_full),
]


def jacobian_operator(mixer: Mixer, x: torch.Tensor) -> torch.Tensor:
    """``J[b, i, j] = dy_i / dx_j`` at ``x``, shape ``(B, L, L, D, D)`` (output channel first).

    One sequence at a time (mixers treat the batch rows independently), by reverse-mode autograd.
    """
    _check(mixer, x)
    rows = []
    for row in x.detach():
        J = torch.autograd.functional.jacobian(lambda xb: mixer(xb[None])[0], row)  # (i, d, j, e)
        rows.append(J.permute(0, 2, 1, 3))
    return torch.stack(rows)


def _check(mixer, x) -> None:
    if not isinstance(mixer, Mixer):
        raise ValueError(f"interaction_operator expects a seqlab Mixer, got {type(mixer).__name__}")
    mixer.check_input(x)


def interaction(mixer: Mixer, x: torch.Tensor) -> Interaction:
    """The :class:`Interaction` of ``mixer`` at ``x`` (batch, length, d_model): exact where a rule
    exists for its class, else the local Jacobian."""
    _check(mixer, x)
    for cls, rule in RULES:
        if isinstance(mixer, cls):
            return rule(mixer, x)
    return Interaction(jacobian_operator(mixer, x), "jacobian", x, lambda o: o, False)


@register("probe", "interaction_operator", implements=Paper(PAPER, "2512.15115"), used_by=[PAPER])
def interaction_operator(mixer: Mixer, x: torch.Tensor) -> torch.Tensor:
    """``W(X)`` with ``y_i = sum_j W_ij(X) v_j``: ``(B, H, L, L)``, ``(B, D, L, L)``, or
    ``(B, L, L, D, D)`` (a channel-mixing linear map, or the Jacobian of a nonlinear mixer)."""
    return interaction(mixer, x).W
