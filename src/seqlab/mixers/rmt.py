"""Recurrent Memory Transformer ("Recurrent Memory Transformer", arXiv 2207.06881).

The sequence is cut into segments ``X_s`` of ``segment`` tokens. Each segment runs through a small
stack of causal pre-norm attention + MLP layers on ``[M_s ; X_s ; M_s]`` (read memory, segment,
write memory, ``n_memory`` tokens each)::

    H_s     = Stack([M_s ; X_s ; M_s])            (local positions 0 .. 2 n_memory + segment - 1)
    Y_s     = Norm(H_s[read + 1 .. read + |X_s|])  segment outputs (the mixer's output)
    M_{s+1} = Norm(H_s[last n_memory])             write-memory outputs become the next memory

``M_0`` is ``n_memory`` learned tokens. Causal attention means the read memory sees only itself, a
segment token sees the memory and earlier tokens, and the write memory sees everything.

Chunked and step modes keep the current segment's per-layer KV caches in fixed-size buffers of
``2 n_memory + segment`` slots, with ``count`` (tokens of the segment seen, per sequence) and the
memory: ``{"memory", "count", "kv": [(k, v) per layer]}``. A token of the segment at local slot
``n_memory + count`` attends to slots ``<= `` its own; when a segment fills, the write memory is run
over the buffers, the new memory's read tokens fill the first ``n_memory`` slots and ``count`` goes
back to 0. Fixed shapes let :func:`seqlab.mixers.base.reset_state` reset single sequences.
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.mixers.attention import Attention
from seqlab.mixers.base import Mixer
from seqlab.registry import Paper, register


class MemoryLayer(nn.Module):
    """Pre-norm residual layer: ``h + attn(norm(h))`` then ``h + mlp(norm(h))``, causal attention."""

    def __init__(self, d_model: int, n_heads: int | None, pos: str, max_len: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_heads=n_heads, causal=True, pos=pos, max_len=max_len)
        self.norm2 = nn.LayerNorm(d_model)
        hidden = max(1, int(mlp_ratio * d_model))
        self.mlp = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Whole ``(batch, L, d)`` local sequence at positions ``0 .. L-1``."""
        pos = torch.arange(h.shape[1], device=h.device).expand(h.shape[0], -1)
        h = h + self.attn(self.norm1(h), pos)
        return h + self.mlp(self.norm2(h))

    def advance(self, h, slots, k_buf, v_buf):
        """Tokens ``h: (batch, m, d)`` at buffer ``slots: (batch, m)``: write their keys/values
        into the buffers and attend to every slot ``<=`` their own. Returns ``(h, k_buf, v_buf)``."""
        q, k, v = self.attn.project(self.norm1(h), slots)
        idx = slots[:, None, :, None].expand_as(k)
        k_buf = k_buf.scatter(2, idx, k.to(k_buf.dtype))
        v_buf = v_buf.scatter(2, idx, v.to(v_buf.dtype))
        buf_pos = torch.arange(k_buf.shape[2], device=h.device)
        allowed = (buf_pos[None, None, :] <= slots[:, :, None])[:, None]
        h = h + self.attn.attend(q, k_buf, v_buf, slots, buf_pos.expand(h.shape[0], -1), allowed)
        return h + self.mlp(self.norm2(h)), k_buf, v_buf


@register(
    "mixer",
    "rmt",
    implements=Paper("Recurrent Memory Transformer", "2207.06881"),
    used_by=["Recurrent Memory Transformer"],
)
class RMT(Mixer):
    """Recurrent Memory Transformer (arXiv 2207.06881): segment-level recurrence through memory tokens.

    ``segment`` tokens per segment, ``n_memory`` memory tokens, ``n_layers`` internal attention + MLP
    layers (``pos``: encoding inside them, local positions per segment).
    """

    modes = ("parallel", "chunked", "step")
    state_size = "n_memory*d_model + O(segment*d_model)"
    state_growth = "window"  # memory tokens plus the current segment's buffers

    def __init__(
        self,
        d_model: int,
        segment: int = 16,
        n_memory: int = 4,
        n_layers: int = 1,
        n_heads: int | None = None,
        pos: str = "rope",
        mlp_ratio: float = 2.0,
    ):
        super().__init__(d_model, causal=True)
        for name, val in (("segment", segment), ("n_memory", n_memory), ("n_layers", n_layers)):
            if not isinstance(val, int) or val <= 0:
                raise ValueError(f"RMT expects {name} a positive int, got {val!r}")
        self.segment, self.n_memory = segment, n_memory
        self.slots = 2 * n_memory + segment
        self.layers = nn.ModuleList(
            MemoryLayer(d_model, n_heads, pos, self.slots, mlp_ratio) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.memory = nn.Parameter(torch.randn(n_memory, d_model))

    # -- parallel --------------------------------------------------------------------------
    def _stack(self, h):
        for layer in self.layers:
            h = layer(h)
        return h

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, _ = x.shape
        mem = self.memory.to(x.dtype).expand(b, -1, -1)
        outs = []
        for start in range(0, length, self.segment):
            seg = x[:, start : start + self.segment]
            last = start + self.segment >= length
            h = self._stack(torch.cat([mem, seg] if last else [mem, seg, mem], dim=1))
            outs.append(self.norm(h[:, self.n_memory : self.n_memory + seg.shape[1]]))
            if not last:
                mem = self.norm(h[:, self.n_memory + seg.shape[1] :])
        return torch.cat(outs, dim=1)

    # -- chunked / step ----------------------------------------------------------------------
    def _advance(self, h, slots, kv):
        new = []
        for layer, (k_buf, v_buf) in zip(self.layers, kv):
            h, k_buf, v_buf = layer.advance(h, slots, k_buf, v_buf)
            new.append((k_buf, v_buf))
        return h, new

    def _read(self, memory):
        """Fresh buffers holding the read-memory tokens' keys/values."""
        b = memory.shape[0]
        attn = self.layers[0].attn
        zeros = memory.new_zeros(b, attn.n_heads, self.slots, attn.d_head)
        slots = torch.arange(self.n_memory, device=memory.device).expand(b, -1)
        _, kv = self._advance(memory, slots, [(zeros, zeros)] * len(self.layers))
        return kv

    def init_state(self, batch: int, device=None, dtype=None):
        """Learned memory ``M_0``, its read keys/values in the buffers, ``count = 0``."""
        dtype = dtype or self.memory.dtype
        memory = self.memory.to(device=device, dtype=dtype).expand(batch, -1, -1)
        return {"memory": memory, "count": torch.zeros(batch, dtype=torch.long, device=device),
                "kv": self._read(memory)}

    def _close_segments(self, state, done):
        """Where ``done``: write memory over the full segment, new memory, fresh read buffers."""
        memory, kv = state["memory"], state["kv"]
        b = memory.shape[0]
        write = self.n_memory + self.segment + torch.arange(self.n_memory, device=memory.device)
        slots = write.expand(b, -1)
        h, _ = self._advance(memory, slots, kv)
        new_memory = self.norm(h)
        new_kv = self._read(new_memory)
        pick = done.view(b, 1, 1, 1)
        return {
            "memory": torch.where(done.view(b, 1, 1), new_memory, memory),
            "count": torch.where(done, torch.zeros_like(state["count"]), state["count"]),
            "kv": [(torch.where(pick, nk, k), torch.where(pick, nv, v))
                   for (nk, nv), (k, v) in zip(new_kv, kv)],
        }

    def _forward_with_state(self, x, state):
        n = x.shape[1]
        outs, t = [], 0
        while t < n:
            count = state["count"]
            m = min(n - t, self.segment - int(count.max()))
            slots = self.n_memory + count[:, None] + torch.arange(m, device=x.device)
            h, kv = self._advance(x[:, t : t + m], slots, state["kv"])
            outs.append(self.norm(h))
            state = {"memory": state["memory"], "count": count + m, "kv": kv}
            done = state["count"] == self.segment
            if done.any():
                state = self._close_segments(state, done)
            t += m
        return torch.cat(outs, dim=1), state
