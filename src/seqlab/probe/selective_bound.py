"""The length-dependence term of the selective-SSM generalization bound, and an unstable Mamba.

Paper: Honarpisheh, Bozdag, Camps, Sznaier, "Generalization Error Analysis for Selective State-Space
Models Through the Lens of Attention" (arXiv 2502.01473). Unrolled, a diagonal selective SSM channel
``d`` is an attention-like map ``y_t = sum_{s <= t} C_t^T P_d(s, t) B_s delta_s x_s`` with the
transition ``P_d(s, t) = prod_{s < r <= t} exp(delta_r A_d)`` (``A_d = diag(a_{d,1..N})``, the
continuous-time state matrix; the empty product is the identity). The covering-number bound depends on
the length ``T`` only through how much mass these transitions carry; with ``S = sum_{s<r<=t} delta_r``::

    ||P_d(s, t)||_2 = max_n exp(a_{d,n} S) = exp(s_d S),   s_d = max_n a_{d,n} (spectral abscissa)
    mass_d(t)       = sum_{s <= t} ||P_d(s, t)||_2
                    <= sum_{k=0}^{T-1} exp(s_A delta_* k)  (delta_* = min delta if s_A < 0, else max)

For ``s_A < 0`` the envelope is at most ``1 / (1 - exp(s_A delta_min))`` for every ``T`` (the
length-independent regime); for ``s_A = 0`` it is ``T``; for ``s_A > 0`` it grows exponentially in
``T``. :func:`transition_terms` computes these from ``delta`` and ``A``; :func:`selective_ssm_bound_terms`
reads ``delta`` and ``A`` out of every Mamba layer of a model on an input and reports the worst case.

:class:`UnstableMamba` is the paper's unstable arm made trainable: a Mamba mixer whose state matrix
is ``A = clamp(exp(A_log), min=a_min)`` -- every eigenvalue has real part ``>= a_min > 0`` for the
whole of training (the clamp stops it from learning its way back to stability) -- with the per-step
exponent ``delta_t a`` capped at ``step_cap`` so that fp32 states stay finite.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from seqlab.mixers.mamba import Mamba
from seqlab.ops.scan import scan_chunked


def state_matrix(mixer: Mamba) -> torch.Tensor:
    """The continuous-time diagonal state matrix ``A`` (``d_inner, N``) a Mamba mixer uses."""
    if hasattr(mixer, "state_matrix"):
        return mixer.state_matrix()
    if not isinstance(mixer, Mamba):
        raise TypeError(f"state_matrix expects a Mamba mixer, got {type(mixer).__name__}")
    return -torch.exp(mixer.A_log.detach())


def geometric_envelope(abscissa: float, delta_min: float, delta_max: float, length: int) -> float:
    """``sum_{k=0}^{T-1} exp(s_A delta_* k)``: the a-priori bound on the transition mass at length ``T``."""
    if length < 1:
        raise ValueError(f"geometric_envelope needs a length >= 1, got {length}")
    if not 0 < delta_min <= delta_max:
        raise ValueError(f"geometric_envelope needs 0 < delta_min <= delta_max, got {delta_min}, {delta_max}")
    step = abscissa * (delta_min if abscissa < 0 else delta_max)
    if step == 0:
        return float(length)
    try:
        return math.expm1(step * length) / math.expm1(step)
    except OverflowError:
        return math.inf


def transition_terms(delta: torch.Tensor, A: torch.Tensor) -> dict:
    """Transition norms of a diagonal selective SSM.

    ``delta``: (B, L, D) positive step sizes; ``A``: (D, N) real diagonal state matrices. Returns
    ``norms`` (B, D, L, L) with ``norms[b, d, t, s] = ||P_d(s, t)||_2`` for ``s <= t`` (0 above the
    diagonal), ``mass`` (B, D, L) = row sums, and the scalars ``abscissa`` (max entry of ``A``),
    ``max_norm``, ``max_mass``, ``mass_at_end`` (worst ``mass`` at the last position), ``delta_min``,
    ``delta_max`` and ``envelope`` (:func:`geometric_envelope` at length L). Computed in float64.
    """
    if delta.dim() != 3 or A.dim() != 2 or delta.shape[-1] != A.shape[0]:
        raise ValueError(
            f"transition_terms expects delta (B, L, D) and A (D, N) with the same D, got "
            f"{tuple(delta.shape)} and {tuple(A.shape)}"
        )
    if not bool(torch.isfinite(delta).all()) or not bool((delta > 0).all()):
        raise ValueError("transition_terms expects finite, positive delta")
    if not bool(torch.isfinite(A).all()):
        raise ValueError("transition_terms expects a finite state matrix A")
    delta, A = delta.detach().double(), A.detach().double()
    L = delta.shape[1]
    s_d = A.max(dim=1).values  # (D,) per-channel abscissa
    cs = torch.cat([torch.zeros_like(delta[:, :1]), delta.cumsum(1)], 1)  # cs[:, k] = sum_{r<k} delta_r
    # S(s, t) = sum_{s < r <= t} delta_r = cs[t + 1] - cs[s + 1]
    S = cs[:, 1:, None, :] - cs[:, None, 1:, :]  # (B, t, s, D)
    lower = torch.ones(L, L, dtype=torch.bool).tril()
    log_norm = (S * s_d).permute(0, 3, 1, 2)  # (B, D, t, s)
    norms = torch.where(lower, torch.exp(log_norm.masked_fill(~lower, 0.0)), torch.zeros((), dtype=A.dtype))
    mass = norms.sum(-1)
    d_lo, d_hi = float(delta.min()), float(delta.max())
    abscissa = float(A.max())
    return {
        "norms": norms,
        "mass": mass,
        "abscissa": abscissa,
        "max_norm": float(norms.max()),
        "max_mass": float(mass.max()),
        "mass_at_end": float(mass[..., -1].max()),
        "delta_min": d_lo,
        "delta_max": d_hi,
        "envelope": geometric_envelope(abscissa, d_lo, d_hi, L),
    }


def _mamba_layers(model) -> list:
    layers = [m for m in model.modules() if isinstance(m, Mamba)]
    if not layers:
        raise ValueError(
            f"selective_ssm_bound_terms needs a model with Mamba mixers, {type(model).__name__} has none"
        )
    return layers


@torch.no_grad()
def selective_ssm_bound_terms(model, x) -> dict:
    """Per Mamba layer of ``model``, :func:`transition_terms` of the ``delta`` it computes on input ``x``.

    Returns ``{"layers": [per-layer scalars], "abscissa", "max_norm", "max_mass", "mass_at_end",
    "envelope"}`` (the worst over layers). The input of each mixer is captured with a forward
    pre-hook and ``delta`` is recomputed from it with a zero conv cache (as in a fresh forward pass).
    """
    layers = _mamba_layers(model)
    seen: dict[int, torch.Tensor] = {}
    hooks = [
        m.register_forward_pre_hook(lambda mod, args, kw, i=i: seen.__setitem__(i, args[0]), with_kwargs=True)
        for i, m in enumerate(layers)
    ]
    was_training = model.training
    try:
        model.eval()
        model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    out = []
    for i, m in enumerate(layers):
        u = seen[i]
        cache = m.init_state(u.shape[0], u.device, u.dtype)[0]
        delta = m._inputs(u, cache)[0]
        r = transition_terms(delta, state_matrix(m))
        out.append({k: v for k, v in r.items() if k not in ("norms", "mass")})
    worst = {
        k: max(r[k] for r in out) for k in ("abscissa", "max_norm", "max_mass", "mass_at_end", "envelope")
    }
    return {"layers": out, **worst}


class UnstableMamba(Mamba):
    """Mamba with a clamped unstable state matrix ``A = clamp(exp(A_log), min=a_min)`` (arXiv 2502.01473).

    ``A_log`` starts at ``log(a_min * (n + 1))`` so the eigenvalues start at ``a_min, 2 a_min, ...``;
    the per-step exponent ``delta_t a`` is capped at ``step_cap``. Runs the torch scan only.
    """

    def __init__(self, d_model: int, a_min: float = 0.05, step_cap: float = 1.0, **kw):
        if not a_min > 0 or not step_cap > 0:
            raise ValueError(f"UnstableMamba expects a_min > 0 and step_cap > 0, got {a_min}, {step_cap}")
        super().__init__(d_model, **kw)
        self.a_min, self.step_cap = float(a_min), float(step_cap)
        with torch.no_grad():
            n = torch.arange(1, self.d_state + 1, dtype=torch.float32)
            self.A_log.copy_(torch.log(a_min * n).repeat(self.d_inner, 1))

    def state_matrix(self) -> torch.Tensor:
        return torch.exp(self.A_log.detach()).clamp(min=self.a_min)

    def _mix(self, u, state, mode):
        conv_cache, h0 = (s.to(u.dtype) for s in state)
        delta, B, C, x, z, cache = self._inputs(u, conv_cache)
        A = torch.exp(self.A_log.to(u.dtype)).clamp(min=self.a_min)
        da = torch.exp((delta.unsqueeze(-1) * A).clamp(max=self.step_cap))
        dbx = delta.unsqueeze(-1) * B.unsqueeze(2) * x.unsqueeze(-1)
        h = scan_chunked(da, dbx, h0, chunk=min(self.chunk, da.shape[1]))
        y = torch.einsum("bldn,bln->bld", h, C)
        y = (y + self.D * x) * F.silu(z)
        return self.out_proj(y), (cache, h[:, -1].clone())
