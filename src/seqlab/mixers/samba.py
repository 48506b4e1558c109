"""Samba: a Mamba + sliding-window-attention hybrid as one mixer.

Paper: "Samba: Simple Hybrid State Space Models for Efficient Unlimited Context Language Modeling",
arXiv 2406.07522. One Samba unit is four pre-norm residual sub-layers::

    h1 = u  + Mamba(RMSNorm(u))
    h2 = h1 + MLP(RMSNorm(h1))                 MLP(x) = W_2 (silu(W_1 x) * W_3 x)   (SwiGLU)
    h3 = h2 + SWA(RMSNorm(h2))                 softmax attention over the last `window` tokens
    h4 = h3 + MLP'(RMSNorm(h3))
    y  = h4 - u                                (the residual update, so Block adds it to its stream)

Mamba compresses the whole past into a fixed-size state; the sliding window recalls the last
``window`` tokens exactly. Both sub-mixers come from the registry (``"mamba"``, ``"attention"``
with ``window=``); the state is ``{"mamba": ..., "attention": ...}`` and is bounded: the Mamba
state is constant-size and the attention KV cache keeps at most ``window`` slots.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.mixers.base import Mixer
from seqlab.ops.norm import RMSNorm
from seqlab.registry import Paper, create, register


class SwiGLU(nn.Module):
    """Position-wise gated MLP ``W_2 (silu(W_1 x) * W_3 x)``."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.w13 = nn.Linear(d_model, 2 * hidden, bias=False)
        self.w2 = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x):
        a, b = self.w13(x).chunk(2, dim=-1)
        return self.w2(F.silu(a) * b)


@register(
    "mixer",
    "samba",
    implements=Paper(
        "Samba: Simple Hybrid State Space Models for Efficient Unlimited Context Language Modeling",
        "2406.07522",
    ),
    used_by=["Samba: Simple Hybrid State Space Models for Efficient Unlimited Context Language Modeling"],
    test_cfg={"window": 8},
)
class Samba(Mixer):
    """Samba hybrid unit (arXiv 2406.07522): Mamba -> MLP -> sliding-window attention -> MLP."""

    modes = ("parallel", "chunked", "step")
    state_size = "mamba state + window * 2 * d_model"
    state_growth = "window"  # constant Mamba state + a KV cache of at most `window` tokens
    uses_positions = True

    def __init__(
        self,
        d_model: int,
        window: int = 128,
        n_heads: int | None = None,
        pos: str = "rope",
        mlp_ratio: float = 4.0,
        mamba_cfg: dict | None = None,
        attention_cfg: dict | None = None,
    ):
        super().__init__(d_model, causal=True)
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"Samba expects window to be a positive int, got {window!r}")
        if mlp_ratio <= 0:
            raise ValueError(f"Samba expects mlp_ratio > 0, got {mlp_ratio}")
        self.window = window
        self.mamba = create("mixer", "mamba", d_model=d_model, **(mamba_cfg or {}))
        self.attention = create(
            "mixer", "attention", d_model=d_model, causal=True, window=window, n_heads=n_heads, pos=pos,
            **(attention_cfg or {}),
        )
        hidden = max(1, int(mlp_ratio * d_model))
        self.mlp1, self.mlp2 = SwiGLU(d_model, hidden), SwiGLU(d_model, hidden)
        self.norms = nn.ModuleList(RMSNorm(d_model) for _ in range(4))

    def _run(self, u, mamba, attention):
        """``mamba(x)``/``attention(x)`` run the two sub-mixers; returns the residual update."""
        n1, n2, n3, n4 = self.norms
        h = u + mamba(n1(u))
        h = h + self.mlp1(n2(h))
        h = h + attention(n3(h))
        h = h + self.mlp2(n4(h))
        return h - u

    # -- contract ------------------------------------------------------------------------
    def init_state(self, batch: int, device=None, dtype=None):
        return {
            "mamba": self.mamba.init_state(batch, device, dtype),
            "attention": self.attention.init_state(batch, device, dtype),
        }

    def _state_spec(self, dtype):
        return {"mamba": self.mamba.state_spec(dtype), "attention": self.attention.state_spec(dtype)}

    def _forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        return self._run(x, self.mamba, lambda h: self.attention(h, positions))

    def _forward_with_state(self, x: torch.Tensor, state, positions=None):
        return self._stateful(x, state, positions, step=False)

    def _step(self, x_t: torch.Tensor, state):
        return self._stateful(x_t, state, None, step=True)

    def _stateful(self, x, state, positions, step):
        """Run the unit carrying both sub-states, through the sub-mixers' chunked or step modes."""
        new = {}

        def mamba(h):
            if step:
                y, new["mamba"] = self.mamba.step(h, state["mamba"])
            else:
                y, new["mamba"] = self.mamba.forward_with_state(h, state["mamba"])
            return y

        def attention(h):
            if step:
                y, new["attention"] = self.attention.step(h, state["attention"])
            else:
                y, new["attention"] = self.attention.forward_with_state(h, state["attention"], positions)
            return y

        return self._run(x, mamba, attention), new
