"""Relevance of each input for a model's output: MambaLRP, gradient x input, integrated gradients.

MambaLRP: Rezaei Jafari, Montavon, Mueller, Eberle, "MambaLRP: Explaining Selective State Space
Sequence Models" (arXiv 2406.07592). Layer-wise relevance propagation (LRP) redistributes an output
``f`` onto the inputs so that relevance is *conserved*: ``sum_i R_i = f`` (with biases, the part
they absorb counted). The basic LRP-0 procedure equals gradient x input ``R_i = x_i df/dx_i``; it
conserves exactly when ``f`` is (jointly in its inputs and biases) positively homogeneous of degree 1,
by Euler's theorem. A Mamba model is not, and the paper fixes the components that break it, keeping
the forward values unchanged and replacing only how gradients flow:

- SiLU ``x sigmoid(x)`` (and GELU ``x Phi(x)``): the sigmoid (Phi) factor is held constant
  (detached), so the activation is locally linear in ``x``;
- the selective SSM: ``delta``, ``B``, ``C`` (and ``exp(delta A)``) depend on the input but are held
  constant, so ``h_t = exp(delta_t A) h_{t-1} + delta_t B_t x_t``, ``y_t = C_t . h_t + D x_t`` is a
  linear map of ``x`` -- the interaction operator of :mod:`seqlab.probe.operator`;
- the multiplicative gate ``y * silu(z)``: degree 2 in the inputs, so gradient x input counts it
  twice; the half rule ``0.5 (y g) + 0.5 [y g]_detached`` gives each factor half;
- LayerNorm / RMSNorm: the ``1 / std`` (``1 / rms``) factor is held constant.

With these rules ``f`` is homogeneous of degree 1 in (inputs, biases), so
``sum_i x_i df/dx_i + sum_b b df/db = f`` to round-off: :attr:`Relevance.gap` measures it.

:func:`integrated_gradients` (Sundararajan et al., "Axiomatic Attribution for Deep Networks",
arXiv 1703.01365): ``IG_i = (x_i - x'_i) int_0^1 df/dx_i(x' + a (x - x')) da`` by the midpoint rule
(the tests compare it with captum's and with closed forms).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.mixers.base import Mixer
from seqlab.mixers.ckconv import CKConv
from seqlab.mixers.mamba import Mamba, _scan_block
from seqlab.mixers.ssm_base import ConvSSM, DiagonalMIMO
from seqlab.ops.norm import RMSNorm
from seqlab.registry import Paper, register

MAMBA_LRP = Paper("MambaLRP: Explaining Selective State Space Sequence Models", "2406.07592")
RULES = ("lrp", "gxi")
LINEAR_MIXERS = (ConvSSM, DiagonalMIMO, CKConv)  # linear in their input: no rule needed


def silu_lrp(x: torch.Tensor) -> torch.Tensor:
    """``x * sigmoid(x)`` with the sigmoid held constant."""
    return x * torch.sigmoid(x).detach()


def gelu_lrp(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """``gelu(x) = x * Phi(x)`` with ``Phi(x) = gelu(x) / x`` held constant (``1/2`` at ``x = 0``)."""
    y = F.gelu(x, approximate=approximate)
    ratio = torch.where(x == 0, torch.full_like(x, 0.5), y / torch.where(x == 0, torch.ones_like(x), x))
    return x * ratio.detach()


def half_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a * b`` whose gradient x input gives each factor half of the product."""
    p = a * b
    return 0.5 * p + 0.5 * p.detach()


def layer_norm_lrp(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    """LayerNorm with ``1 / sqrt(var + eps)`` held constant (centring is linear)."""
    dims = tuple(range(-len(norm.normalized_shape), 0))
    centred = x - x.mean(dims, keepdim=True)
    inv = torch.rsqrt(x.var(dims, unbiased=False, keepdim=True) + norm.eps).detach()
    y = centred * inv
    if norm.weight is not None:
        y = y * norm.weight
    return y if norm.bias is None else y + norm.bias


def rms_norm_lrp(norm: RMSNorm, x: torch.Tensor) -> torch.Tensor:
    """RMSNorm with ``1 / rms`` held constant."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm.eps).detach() * norm.weight


def mamba_lrp_forward(m: Mamba, u: torch.Tensor) -> torch.Tensor:
    """The Mamba mixer's parallel forward (same values) with the MambaLRP rules on its gradients."""
    b = u.shape[0]
    x, z = m.in_proj(u).chunk(2, dim=-1)
    xs = torch.cat([x.new_zeros(b, m.d_conv - 1, m.d_inner), x], dim=1)
    x = silu_lrp(m.conv(xs.transpose(1, 2)).transpose(1, 2))
    dt, B, C = m.x_proj(x).split([m.dt_rank, m.d_state, m.d_state], dim=-1)
    delta = F.softplus(m.dt_proj(dt))
    A = -torch.exp(m.A_log.to(u.dtype))
    h0 = u.new_zeros(b, m.d_inner, m.d_state)
    # the selective parameters are held constant: the scan is a linear map of x
    y, _ = _scan_block(A.detach(), m.chunk)(h0, delta.detach(), B.detach(), C.detach(), x)
    y = y + m.D * x
    return m.out_proj(half_product(y, silu_lrp(z)))


@contextmanager
def lrp_rules(model: nn.Module):
    """Inside the context, ``model``'s Mamba mixers, norms and SiLU/GELU run with the MambaLRP rules.

    Forward values are unchanged. A mixer that is neither Mamba nor linear (S4, S4D, LSSL, LRU, S5,
    CKConv) has no rule here and raises ``ValueError``.
    """
    patched: list[tuple[nn.Module, str]] = []

    def patch(mod, name, fn):
        setattr(mod, name, fn)
        patched.append((mod, name))

    try:
        for mod in model.modules():
            if isinstance(mod, Mamba):
                patch(mod, "_forward", lambda u, m=mod: mamba_lrp_forward(m, u))
            elif isinstance(mod, Mixer) and not isinstance(mod, LINEAR_MIXERS):
                raise ValueError(
                    f"lrp_rules has rules for mamba and the linear mixers (s4, s4d, lssl, lru, s5, ckconv), "
                    f"got {type(mod).__name__}"
                )
            elif isinstance(mod, nn.LayerNorm):
                patch(mod, "forward", lambda x, n=mod: layer_norm_lrp(n, x))
            elif isinstance(mod, RMSNorm):
                patch(mod, "forward", lambda x, n=mod: rms_norm_lrp(n, x))
            elif isinstance(mod, nn.GELU):
                patch(mod, "forward", lambda x, a=mod.approximate: gelu_lrp(x, a))
            elif isinstance(mod, nn.SiLU):
                patch(mod, "forward", silu_lrp)
        yield model
    finally:
        for mod, name in reversed(patched):
            delattr(mod, name)


@dataclass(frozen=True)
class Relevance:
    """Relevance of one output per sequence: ``inputs (B, L, d)``, ``tokens (B, L)`` (summed over
    features), ``bias (B,)`` (absorbed by the bias parameters) and the explained ``output (B,)``."""

    inputs: torch.Tensor
    bias: torch.Tensor
    output: torch.Tensor
    rule: str

    @property
    def tokens(self) -> torch.Tensor:
        return self.inputs.sum(-1)

    def gap(self, with_bias: bool = True) -> torch.Tensor:
        """Relative conservation error ``|sum_i R_i (+ R_bias) - f| / |f|`` per sequence."""
        total = self.tokens.sum(-1) + (self.bias if with_bias else 0.0)
        return (total - self.output).abs() / self.output.abs().clamp_min(1e-12)


def _output_fn(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    if hasattr(model, "forward_embeds"):
        return lambda e: model.forward_embeds(e).logits
    return model


def _check_relevance_inputs(embeds, target, position, rule):
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if not isinstance(embeds, torch.Tensor) or embeds.dim() != 3 or not embeds.is_floating_point():
        raise ValueError(f"relevance expects float embeds of shape (batch, length, d), got {embeds!r}")
    target = torch.as_tensor(target)
    if target.shape != (embeds.shape[0],) or target.is_floating_point():
        raise ValueError(
            f"relevance expects integer targets of shape ({embeds.shape[0]},), got {tuple(target.shape)}"
        )
    if not -embeds.shape[1] <= position < embeds.shape[1]:
        raise ValueError(f"position must index the length {embeds.shape[1]}, got {position}")
    return target


@register("probe", "mamba_lrp", implements=MAMBA_LRP, used_by=[MAMBA_LRP.title])
def relevance(
    model: nn.Module, embeds: torch.Tensor, target, position: int = -1, rule: str = "lrp"
) -> Relevance:
    """Relevance of ``embeds (B, L, d)`` for the logit ``target[b]`` at ``position`` of each sequence.

    ``model`` maps embeddings to logits ``(B, L, C)`` -- a :class:`~seqlab.models.SequenceModel`
    through ``forward_embeds``, or any module called on the embeddings. ``rule="lrp"``: MambaLRP
    (:func:`lrp_rules`); ``rule="gxi"``: plain gradient x input. One backward pass per sequence, so the
    bias relevance is per sequence.
    """
    target = _check_relevance_inputs(embeds, target, position, rule)
    run = _output_fn(model)
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    inputs, bias, outputs = [], [], []
    with lrp_rules(model) if rule == "lrp" else nullcontext():
        for row, t in zip(embeds.detach(), target.tolist()):
            e = row[None].clone().requires_grad_(True)
            f = run(e)[0, position, t]
            grads = torch.autograd.grad(f, [e, *biases], allow_unused=True)
            inputs.append((e * grads[0])[0].detach())
            rb = sum((p * g).sum() for p, g in zip(biases, grads[1:]) if g is not None)
            bias.append(torch.as_tensor(rb, dtype=e.dtype).detach())
            outputs.append(f.detach())
    return Relevance(torch.stack(inputs), torch.stack(bias), torch.stack(outputs), rule)


@register(
    "probe",
    "integrated_gradients",
    implements=Paper("Axiomatic Attribution for Deep Networks", "1703.01365"),
    used_by=[MAMBA_LRP.title],
)
def integrated_gradients(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    baseline: torch.Tensor | None = None,
    steps: int = 32,
) -> torch.Tensor:
    """``(x - x') * mean_s grad fn(x' + a_s (x - x'))`` at the midpoints ``a_s = (s + 1/2) / steps``.

    ``fn`` maps a batch ``(N, ...)`` to one output per row ``(N,)``; ``x`` is ``(N, ...)``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"integrated_gradients expects a float tensor x, got {type(x).__name__}")
    base = torch.zeros_like(x) if baseline is None else baseline.to(x)
    if base.shape != x.shape:
        raise ValueError(f"baseline must have the shape of x {tuple(x.shape)}, got {tuple(base.shape)}")
    total = torch.zeros_like(x)
    for s in range(steps):
        point = (base + (s + 0.5) / steps * (x - base)).detach().requires_grad_(True)
        out = fn(point)
        if out.shape != x.shape[:1]:
            raise ValueError(
                f"fn must return one value per row, shape ({x.shape[0]},), got {tuple(out.shape)}"
            )
        total = total + torch.autograd.grad(out.sum(), point)[0]
    return (x - base) * total / steps
