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

Memory: whenever scores must be materialised (ALiBi's bias, URPE's factor, a KV cache's validity
mask, ``sdpa=False``), queries run in blocks of ``query_block`` against the keys they may see, so
scores, masks and biases take O(block * L) memory, never O(L^2); only plain causal or bidirectional
SDPA without a bias runs in one call (its fused kernel does not materialise the score matrix).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab import debug
from seqlab.mixers.base import Mixer
from seqlab.mixers.positional import check_positions
from seqlab.registry import Paper, create, register

POS_KINDS = ("none", "rope", "alibi", "urpe")
WINDOW_BLOCK = 128  # queries per block of the sliding-window path
QUERY_BLOCK = 256  # queries per block when scores must be materialised (ALiBi, URPE, KV cache, no SDPA)


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
    (docs/mqar_notes.md)."""
    return d_model // 64 if d_model >= 64 and d_model % 64 == 0 else 1


@register(
    "mixer",
    "attention",
    implements=Paper("Attention Is All You Need", "1706.03762"),
    used_by=[
        "RNNs are not Transformers (Yet): The Key Bottleneck on In-context Retrieval",
        "Randomized Positional Encodings Boost Length Generalization of Transformers",
    ],
)
class Attention(Mixer):
    """Multi-head softmax attention (arXiv 1706.03762), causal or bidirectional, optional window.

    ``pos`` picks an encoding applied inside attention: ``"none"``, ``"rope"``, ``"alibi"`` or
    ``"urpe"``. ``forward(x, positions)`` takes absolute integer positions ``(batch, length)``
    (``arange`` by default), so randomized positions reach RoPE/ALiBi/URPE unchanged.
    """

    modes = ("parallel", "chunked", "step")
    state_size = "O(L * d_model)"
    state_growth = "linear"  # "window" for an instance with a sliding window
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
        self.query_block = QUERY_BLOCK
        if not causal:
            self.modes = ("parallel",)
        if window is not None:
            self.state_size = "window * 2 * d_model"
            self.state_growth = "window"
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
        """Queries, keys, values ``(batch, heads, length, d_head)``, RoPE applied.

        ``positions`` (batch, length), or None for ``arange(length)`` in every sequence.
        """
        qkv = self.qkv(x).unflatten(-1, (3, self.n_heads, self.d_head)).permute(2, 0, 3, 1, 4)
        if self.rope is None:
            return qkv.unbind(0)
        # one rotation for q and k together; positions None -> RoPE's cached arange table
        rot = self.rope.factor(positions, x.shape[1], x.device, x.dtype)
        q, k = self.rope.apply(qkv[:2], rot).unbind(0)
        return q, k, qkv[2]

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
        check_values = positions.device.type == "cpu" or debug.enabled()  # no device sync otherwise
        if self.causal and length > 1 and check_values and (positions[:, 1:] < positions[:, :-1]).any():
            raise ValueError("Attention (causal) expects non-decreasing positions along the sequence")
        return positions.to(device)

    # -- modes -----------------------------------------------------------------------------
    def _forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        b, length, _ = x.shape
        given = positions is not None
        if given or self.alibi is not None or self.urpe is not None or self.window is not None:
            positions = self._positions(positions, b, length, x.device)
        q, k, v = self.project(x, positions if given else None)  # None: RoPE's cached arange table
        if self.window is not None:
            return self.windowed(q, k, v, positions)
        if self.alibi is None and self.urpe is None and self.sdpa:
            return self.attend(q, k, v, positions, positions, is_causal=self.causal)
        return self.blocked(q, k, v, positions, positions)

    def blocked(self, q, k, v, q_pos, k_pos, offset: int = 0, valid=None) -> torch.Tensor:
        """Attention in query blocks of ``query_block``: ``(batch, Lq, d_model)``.

        Query ``i`` sits at key slot ``offset + i``; causally it sees slots ``j <= offset + i``
        (and ``j > offset + i - window`` with a window), bidirectionally every slot; ``valid``
        ``(batch, Lk)`` bool further drops stale cache slots. Positions may be None when no
        encoding inside attention reads them. Each block is given only the key range
        it may see, so scores/bias/mask take ``O(batch * heads * block * Lk)`` memory.
        """
        blk, lk = self.query_block, k.shape[2]
        ys = []
        for i, q_blk in enumerate(q.split(blk, dim=2)):
            s, e = i * blk, i * blk + q_blk.shape[2]
            if self.causal:
                lo = 0 if self.window is None else max(0, offset + s - self.window + 1)
                hi = offset + e
            else:
                lo, hi = 0, lk
            allowed = None
            if self.causal:
                rel = torch.arange(offset + s, offset + e, device=q.device)[:, None] - torch.arange(
                    lo, hi, device=q.device
                )
                allowed = rel >= 0
                if self.window is not None:
                    allowed = allowed & (rel < self.window)
                allowed = allowed[None, None]
            if valid is not None:
                keep = valid[:, None, None, lo:hi]
                allowed = keep if allowed is None else allowed & keep
            k_blk, v_blk = k[:, :, lo:hi], v[:, :, lo:hi]
            qp, kp = (None, None) if q_pos is None else (q_pos[:, s:e], k_pos[:, lo:hi])
            ys.append(self.mix(q_blk, k_blk, v_blk, qp, kp, allowed))
        return self.out(torch.cat(ys, dim=2).transpose(1, 2).flatten(2))

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

    def _state_spec(self, dtype):
        """The cache grows along time: ``k``, ``v`` (dim 2) and ``pos`` (dim 1) have any length."""
        spec = super()._state_spec(dtype)
        free = {"k": 1, "v": 1, "pos": 0}  # time dim after the batch dim
        return {
            key: s._replace(shape=tuple(None if i == free.get(key) else d for i, d in enumerate(s.shape)))
            for key, s in spec.items()
        }

    def _forward_with_state(self, x, state, positions=None):
        b, n, _ = x.shape
        seen = state["seen"]
        positions = self._positions(positions, b, n, x.device, start=seen)
        q, k, v = self.project(x, positions)
        keys = torch.cat([state["k"], k.to(state["k"].dtype)], dim=2)
        values = torch.cat([state["v"], v.to(state["v"].dtype)], dim=2)
        key_pos = torch.cat([state["pos"], positions], dim=1)
        cached = state["k"].shape[2]
        slot = torch.arange(cached + n, device=x.device)
        valid = slot[None, :] >= cached - seen.clamp(max=cached)[:, None]  # (B, T+n); new slots always valid
        y = self.blocked(q, keys, values, positions, key_pos, offset=cached, valid=valid)
        keep = slice(None) if self.window is None else slice(-self.window, None)
        new = {"k": keys[:, :, keep], "v": values[:, :, keep], "pos": key_pos[:, keep], "seen": seen + n}
        return y, new
