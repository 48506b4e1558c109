"""Multi-head softmax attention ("Attention Is All You Need", arXiv 1706.03762).

Per head ``h`` with ``q_i = W_q x_i``, ``k_j = W_k x_j``, ``v_j = W_v x_j`` (width ``d_h``)::

    s_ij = q_i . k_j / sqrt(d_h) + b_ij          b: ALiBi bias (0 otherwise)
    a_ij = softmax_j(s_ij over allowed j) * C_ij   C: URPE Toeplitz factor (1 otherwise)
    y_i  = W_o concat_h( sum_j a_ij v_j )

``allowed``: every ``j`` (bidirectional), ``j <= i`` (causal), ``i - window < j <= i`` (sliding
window: the last ``window`` keys including itself). RoPE rotates ``q_i``/``k_j`` by their absolute
positions, so scores depend on ``p_i - p_j`` only (see :mod:`seqlab.mixers.positional`).

The fast path is ``torch.nn.functional.scaled_dot_product_attention``; :func:`attention_reference`
(explicit softmax with a mask) sits beside it and the tests compare them. URPE multiplies the
probabilities after the softmax, which SDPA cannot express, so URPE always runs the reference.

Causal attention also runs chunked and step-wise over a KV cache ``{"k", "v", "pos", "seen"}``:
keys/values ``(batch, heads, T, d_h)``, their positions ``(batch, T)`` and the number of tokens seen
per sequence ``(batch,)``. Only the last ``min(seen, T)`` slots of a sequence are valid, so
:func:`seqlab.mixers.base.reset_state` resets a sequence by zeroing its ``seen``; the empty cache
holds one invalid slot, which ``torch.where`` broadcasts over a grown cache.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.mixers.base import Mixer
from seqlab.mixers.positional import check_positions
from seqlab.registry import create, register

POS_KINDS = ("none", "rope", "alibi", "urpe")
WINDOW_BLOCK = 128  # queries per block of the sliding-window path


def attention_reference(q, k, v, allowed=None, bias=None, prob_scale=None):
    """Plain ``(softmax(q k^T / sqrt(d) + bias, masked by allowed) * prob_scale) v``.

    ``q: (B, H, Lq, d)``, ``k, v: (B, H, Lk, d)``; ``allowed`` bool and ``bias``/``prob_scale``
    float, all broadcastable to ``(B, H, Lq, Lk)``. Every query must be allowed at least one key.
    """
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    probs = scores.softmax(dim=-1)
    if prob_scale is not None:
        probs = probs * prob_scale
    return probs @ v


def attention_sdpa(q, k, v, allowed=None, bias=None, is_causal=False):
    """The same as :func:`attention_reference` (without ``prob_scale``) through fused SDPA."""
    mask = allowed
    if bias is not None:
        bias = bias.to(q.dtype)
        mask = bias if allowed is None else bias.masked_fill(~allowed, float("-inf"))
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal and mask is None)


def default_heads(d_model: int) -> int:
    """One head per 64 channels (head width 64, GPT-2's), at least 1: ``d_model // 64`` when ``d_model`` is
    a multiple of 64, else 1. Narrow heads learn recall slowly: on MQAR (vocab 128, length 64, 16 pairs,
    d_model 64) 4 heads of width 16 needed 750-950 steps to 99% where 1 head of 64 needed 500-600
    (MQAR_NOTES.md)."""
    return d_model // 64 if d_model >= 64 and d_model % 64 == 0 else 1


@register(
    "mixer",
    "attention",
    cites="Attention Is All You Need, arXiv 1706.03762",
    state_size="O(L * d_model) (window * 2 * d_model when windowed)",
)
class Attention(Mixer):
    """Multi-head softmax attention (arXiv 1706.03762), causal or bidirectional, optional window.

    ``pos`` picks an encoding applied inside attention: ``"none"``, ``"rope"``, ``"alibi"`` or
    ``"urpe"``. ``forward(x, positions)`` takes absolute integer positions ``(batch, length)``
    (``arange`` by default), so randomized positions reach RoPE/ALiBi/URPE unchanged.
    """

    modes = ("parallel", "chunked", "step")
    state_size = "O(L * d_model)"
    uses_positions = True

    def __init__(
        self,
        d_model: int,
        n_heads: int | None = None,
        causal: bool = True,
        window: int | None = None,
        pos: str = "rope",
        max_len: int = 4096,
        rope_base: float = 10000.0,
        sdpa: bool = True,
    ):
        super().__init__(d_model, causal)
        n_heads = default_heads(d_model) if n_heads is None else n_heads
        if not isinstance(n_heads, int) or n_heads <= 0 or d_model % n_heads:
            raise ValueError(
                f"Attention expects n_heads a positive divisor of d_model={d_model}, got {n_heads!r}"
            )
        if window is not None and (not isinstance(window, int) or window <= 0):
            raise ValueError(f"Attention expects window a positive int or None, got {window!r}")
        if window is not None and not causal:
            raise ValueError("Attention expects causal=True when a sliding window is set")
        if pos not in POS_KINDS:
            raise ValueError(f"Attention expects pos in {POS_KINDS}, got {pos!r}")
        self.n_heads, self.d_head, self.window, self.pos_kind = n_heads, d_model // n_heads, window, pos
        self.sdpa = sdpa
        if not causal:
            self.modes = ("parallel",)
        if window is not None:
            self.state_size = "window * 2 * d_model"
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.rope = self.alibi = self.urpe = None
        if pos == "rope":
            self.rope = create("positional", "rope", d_model=self.d_head, max_len=max_len, base=rope_base)
        elif pos == "alibi":
            self.alibi = create("positional", "alibi", d_model=self.d_head, max_len=max_len, n_heads=n_heads)
        elif pos == "urpe":
            self.urpe = create("positional", "urpe", d_model=self.d_head, max_len=max_len, n_heads=n_heads,
                               causal=causal)

    # -- building blocks (also used by the RMT mixer) --------------------------------------
    def project(self, x: torch.Tensor, positions: torch.Tensor):
        """Queries, keys, values ``(batch, heads, length, d_head)``, RoPE applied."""
        q, k, v = self.qkv(x).unflatten(-1, (3, self.n_heads, self.d_head)).permute(2, 0, 3, 1, 4)
        if self.rope is not None:
            q, k = self.rope.rotate(q, positions), self.rope.rotate(k, positions)
        return q, k, v

    def attend(self, q, k, v, q_pos, k_pos, allowed=None, is_causal=False) -> torch.Tensor:
        """Mix values and project out: ``(batch, Lq, d_model)``.

        ``allowed``: bool ``(batch, 1, Lq, Lk)`` or None (all keys, or ``j <= i`` if ``is_causal``).
        """
        return self.out(self.mix(q, k, v, q_pos, k_pos, allowed, is_causal).transpose(1, 2).flatten(2))

    def mix(self, q, k, v, q_pos, k_pos, allowed=None, is_causal=False) -> torch.Tensor:
        """The attention of :meth:`attend` before the output projection: ``(batch, heads, Lq, d_head)``."""
        bias = None if self.alibi is None else self.alibi.bias(q_pos, k_pos)
        if is_causal and (bias is not None or self.urpe is not None or not self.sdpa):
            lq, lk = q.shape[2], k.shape[2]
            allowed = torch.ones(lq, lk, dtype=torch.bool, device=q.device).tril(lk - lq)
            is_causal = False
        if self.urpe is not None or not self.sdpa:
            scale = None if self.urpe is None else self.urpe.scale(q_pos, k_pos, allowed).to(q.dtype)
            y = attention_reference(q, k, v, allowed, None if bias is None else bias.to(q.dtype), scale)
        else:
            y = attention_sdpa(q, k, v, allowed, bias, is_causal)
        return y

    def windowed(self, q, k, v, positions) -> torch.Tensor:
        """Sliding-window attention in query blocks of ``WINDOW_BLOCK``: each block attends to the keys
        of ``[start - window + 1, end)`` only, so scores and masks take O(L * (window + WINDOW_BLOCK))
        memory instead of O(L^2). Returns ``(batch, length, d_model)``.

        The blocks' overlapping key/value windows are views (``unfold`` of the front-padded keys) and
        the queries are ``split``: one backward node each, where slicing every block out would give
        each slice a full-length zero gradient (O(L^2 / block) work).
        """
        length, w, blk = q.shape[2], self.window, WINDOW_BLOCK
        n, span = -(-length // blk), blk + w - 1
        pad = (0, 0, w - 1, n * blk - length)
        k_win, v_win = (F.pad(t, pad).unfold(2, span, blk).transpose(-1, -2).unbind(2) for t in (k, v))
        slot = torch.arange(-(w - 1), n * blk, device=q.device)  # sequence index of each padded key
        ys = []
        for i, q_blk in enumerate(q.split(blk, dim=2)):
            s, keys = i * blk, slot[i * blk : i * blk + span]
            rel = torch.arange(s, s + q_blk.shape[2], device=q.device)[:, None] - keys
            k_pos = positions[:, keys.clamp(0, length - 1)]
            allowed = (rel >= 0) & (rel < w) & (keys >= 0)
            q_pos = positions[:, s : s + q_blk.shape[2]]
            ys.append(self.mix(q_blk, k_win[i], v_win[i], q_pos, k_pos, allowed))
        return self.out(torch.cat(ys, dim=2).transpose(1, 2).flatten(2))

    def _positions(self, positions, batch, length, device, start=None):
        if positions is None:
            base = torch.arange(length, device=device).expand(batch, length)
            return base if start is None else base + start[:, None]
        positions = check_positions(positions, batch, length, name="Attention")
        if self.causal and length > 1 and (positions[:, 1:] < positions[:, :-1]).any():
            raise ValueError("Attention (causal) expects non-decreasing positions along the sequence")
        return positions.to(device)

    # -- modes -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        b, length, _ = x.shape
        positions = self._positions(positions, b, length, x.device)
        q, k, v = self.project(x, positions)
        if self.window is not None:
            return self.windowed(q, k, v, positions)
        return self.attend(q, k, v, positions, positions, is_causal=self.causal)

    def init_state(self, batch: int, device=None, dtype=None):
        """Empty KV cache: one invalid slot and ``seen = 0`` per sequence."""
        dtype = dtype or self.qkv.weight.dtype
        kv = torch.zeros(batch, self.n_heads, 1, self.d_head, device=device, dtype=dtype)
        return {
            "k": kv,
            "v": kv.clone(),
            "pos": torch.zeros(batch, 1, dtype=torch.long, device=device),
            "seen": torch.zeros(batch, dtype=torch.long, device=device),
        }

    def _check_state(self, state, batch):
        if not isinstance(state, dict) or set(state) != {"k", "v", "pos", "seen"}:
            raise ValueError("Attention expects a state dict with keys k, v, pos, seen (from init_state)")
        if state["k"].shape[0] != batch or state["k"].shape[1:2] + state["k"].shape[3:] != (
            self.n_heads, self.d_head
        ):
            raise ValueError(
                f"Attention expects a cache of shape ({batch}, {self.n_heads}, T, {self.d_head}), "
                f"got {tuple(state['k'].shape)}"
            )

    def forward_with_state(self, x, state=None, positions=None):
        if not self.causal:
            return super().forward_with_state(x, state)
        self.check_input(x)
        b, n, _ = x.shape
        state = self.init_state(b, x.device, x.dtype) if state is None else state
        self._check_state(state, b)
        seen = state["seen"]
        positions = self._positions(positions, b, n, x.device, start=seen)
        q, k, v = self.project(x, positions)
        keys = torch.cat([state["k"], k.to(state["k"].dtype)], dim=2)
        values = torch.cat([state["v"], v.to(state["v"].dtype)], dim=2)
        key_pos = torch.cat([state["pos"], positions], dim=1)
        cached = state["k"].shape[2]
        slot = torch.arange(cached + n, device=x.device)
        valid = slot[None, :] >= cached - seen.clamp(max=cached)[:, None]  # (B, T+n); new slots always valid
        rel = (cached + torch.arange(n, device=x.device))[:, None] - slot[None, :]  # (n, T+n)
        ok = rel >= 0
        if self.window is not None:
            ok = ok & (rel < self.window)
        allowed = (valid[:, None, :] & ok[None])[:, None]
        y = self.attend(q, keys, values, positions, key_pos, allowed)
        keep = slice(None) if self.window is None else slice(-self.window, None)
        new = {"k": keys[:, :, keep], "v": values[:, :, keep], "pos": key_pos[:, keep], "seen": seen + n}
        return y, new

    def step(self, x_t, state=None):
        if not self.causal:
            return super().step(x_t, state)
        self.check_input(x_t, step=True)
        y, state = self.forward_with_state(x_t[:, None], state)
        return y[:, 0], state
