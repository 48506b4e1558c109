"""Pointer network over a set encoder.

"Pointer Networks" (arXiv 1506.03134): the output at step ``i`` is a distribution over input
positions, given by additive attention of the decoder state ``d_i`` over the encoder memories
``m_j``::

    u_ij = v^T tanh(W1 m_j + W2 d_i),   p(y_i = j | y_<i, x) = softmax_j(u_ij)

The decoder is an LSTM whose input at step ``i`` is the memory of the previously pointed element
(teacher-forced with the targets when given, greedy otherwise). With ``mask_chosen`` positions
already pointed at are excluded, so the output is a permutation. With ``stop_last`` the last input
position is a stop marker (the convex-hull task's extra row): pointing at it ends the output, and it
is never masked as chosen, so variable-length outputs (a hull's vertices, then stop) are pointer
sequences too.

Decoding runs step by step through :meth:`PointerNetwork.begin`, :meth:`~PointerNetwork.scores` and
:meth:`~PointerNetwork.advance` on a :class:`PointerState` (rows reorderable with
:meth:`PointerState.select`, for beam search in :mod:`seqlab.decode.pointer`); ``forward`` is that
loop, teacher-forced or greedy.

Encoder: ``m_j = W x_j`` (+ ``n_layers`` pre-norm blocks of any registered mixer, built
non-causal when the mixer accepts ``causal``), followed by the read-process-write "process" block
of "Order Matters: Sequence to sequence for sets" (arXiv 1511.06391), an order-invariant summary
computed by ``process_steps`` rounds of content attention::

    q_t = LSTM(q*_{t-1}),  a_t = softmax_j(m_j . q_t),  r_t = sum_j a_tj m_j,  q*_t = [q_t, r_t]

whose final ``q*_T`` initialises the decoder state. With ``mixer=None`` (the default) the encoder
is the set encoder of that paper: per-element embeddings, so the model is permutation invariant in
its inputs and runs on sets of any size. ``positions`` (e.g. "sinusoidal") adds an encoding of the
input index to the embeddings, for targets that depend on the input order (a hull starting at its
lowest-index vertex).
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import torch
from torch import nn

from seqlab.models.sequence_model import Block
from seqlab.registry import Paper, create, get, register


class ProcessBlock(nn.Module):
    """Order-invariant summary of a set of memories by ``steps`` rounds of attention (Order Matters)."""

    def __init__(self, d_model: int, steps: int):
        super().__init__()
        self.steps = steps
        self.cell = nn.LSTMCell(2 * d_model, d_model)

    def forward(self, m: torch.Tensor):
        b, _, d = m.shape
        h = m.new_zeros(b, d)
        c = m.new_zeros(b, d)
        q_star = m.new_zeros(b, 2 * d)
        for _ in range(self.steps):
            h, c = self.cell(q_star, (h, c))
            a = torch.softmax(torch.einsum("bnd,bd->bn", m, h), dim=-1)
            q_star = torch.cat([h, torch.einsum("bn,bnd->bd", a, m)], dim=-1)
        return q_star


class PointerState(NamedTuple):
    """Decoder state of a batch of pointer rows: memories, keys, LSTM state, next input, chosen mask."""

    m: torch.Tensor  # (B, n, d) encoder memories
    keys: torch.Tensor  # (B, n, d) W1 m
    h: torch.Tensor  # (B, d)
    c: torch.Tensor  # (B, d)
    inp: torch.Tensor  # (B, d) the next decoder input
    chosen: torch.Tensor  # (B, n) bool, positions already pointed at

    def select(self, index: torch.Tensor) -> PointerState:
        """The rows ``index`` (e.g. the parent beam of every surviving hypothesis)."""
        return PointerState(*(t[index] for t in self))


@register(
    "model",
    "pointer_network",
    implements=(
        Paper("Pointer Networks", "1506.03134"),
        Paper("Order Matters: Sequence to sequence for sets", "1511.06391"),
    ),
    used_by=["Pointer Networks", "Order Matters: Sequence to sequence for sets"],
    output="pointer",
)
class PointerNetwork(nn.Module):
    """Set/sequence encoder + LSTM decoder pointing at input positions; logits (batch, n_out, n_in)."""

    def __init__(
        self,
        d_input: int = 1,
        d_model: int = 64,
        mixer: str | None = None,
        n_layers: int = 1,
        mixer_cfg: dict | None = None,
        process_steps: int = 3,
        mask_chosen: bool = True,
        stop_last: bool = False,
        positions: str | None = None,
    ):
        super().__init__()
        if d_input < 1 or d_model < 1 or process_steps < 0:
            raise ValueError(
                f"PointerNetwork needs d_input >= 1, d_model >= 1, process_steps >= 0; got "
                f"{d_input}, {d_model}, {process_steps}"
            )
        self.d_input, self.d_model, self.mask_chosen = d_input, d_model, mask_chosen
        self.stop_last = stop_last
        self.embed = nn.Linear(d_input, d_model)
        self.pos = None
        if positions is not None:  # an additive absolute encoding of the input index (sinusoidal, learned)
            self.pos = create("positional", positions, d_model=d_model)
            if not getattr(self.pos, "additive", False):
                raise ValueError(f"PointerNetwork positions must be an additive encoding, got {positions!r}")
        self.blocks = nn.ModuleList()
        if mixer is not None:
            cfg = dict(mixer_cfg or {})
            if "causal" in inspect.signature(get("mixer", mixer).obj).parameters:
                cfg.setdefault("causal", False)
            self.blocks.extend(
                Block(create("mixer", mixer, d_model=d_model, **cfg), d_model) for _ in range(n_layers)
            )
        self.norm = nn.LayerNorm(d_model)
        self.process = ProcessBlock(d_model, process_steps)
        self.init_h = nn.Linear(2 * d_model, d_model)
        self.start = nn.Parameter(torch.zeros(d_model))
        self.decoder = nn.LSTMCell(d_model, d_model)
        self.w_mem = nn.Linear(d_model, d_model, bias=False)
        self.w_dec = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, 1, bias=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.d_input or not x.is_floating_point():
            raise ValueError(
                f"PointerNetwork expects float inputs of shape (batch, n, {self.d_input}), got "
                f"{x.dtype} {tuple(x.shape)}"
            )
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"PointerNetwork expects a non-empty batch and set, got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("PointerNetwork expects finite inputs, got NaN or inf")
        m = self.embed(x)
        if self.pos is not None:
            m = m + self.pos(torch.arange(x.shape[1], device=x.device)[None])
        for block in self.blocks:
            m = block(m)
        return self.norm(m)

    def begin(self, x: torch.Tensor) -> PointerState:
        """Encode ``x`` and the decoder's initial state (``h`` from the process block's summary)."""
        m = self.encode(x)
        b, n, _ = m.shape
        if self.stop_last and n < 2:
            raise ValueError(f"stop_last needs at least one point before the stop row, got n={n}")
        h = torch.tanh(self.init_h(self.process(m)))
        return PointerState(
            m,
            self.w_mem(m),
            h,
            torch.zeros_like(h),
            self.start.expand(b, -1),
            torch.zeros(b, n, dtype=torch.bool, device=m.device),
        )

    def scores(self, state: PointerState) -> tuple[torch.Tensor, PointerState]:
        """One decoder step: pointer logits ``u_ij`` ``(B, n)`` (chosen positions at the dtype's min)."""
        h, c = self.decoder(state.inp, (state.h, state.c))
        u = self.v(torch.tanh(state.keys + self.w_dec(h).unsqueeze(1))).squeeze(-1)
        if self.mask_chosen:
            u = u.masked_fill(state.chosen, torch.finfo(u.dtype).min)
        return u, state._replace(h=h, c=c)

    def advance(self, state: PointerState, idx: torch.Tensor) -> PointerState:
        """Point at ``idx`` ``(B,)``: mark it chosen (never the stop row) and feed its memory next."""
        rows = torch.arange(idx.shape[0], device=idx.device)
        chosen = state.chosen.clone()
        chosen[rows, idx] = True
        if self.stop_last:
            chosen[:, -1] = False
        return state._replace(inp=state.m[rows, idx], chosen=chosen)

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None, n_out: int | None = None):
        """Pointer logits ``(batch, n_out, n)``; teacher-forced with ``targets`` (batch, n_out) if given."""
        state = self.begin(x)
        b, n, _ = state.m.shape
        if targets is not None:
            if targets.shape[0] != b or targets.dim() != 2:
                raise ValueError(f"targets must have shape (batch={b}, n_out), got {tuple(targets.shape)}")
            if targets.numel() and (targets.min() < 0 or targets.max() >= n):
                raise ValueError(
                    f"targets must be input positions in [0, {n}), got {targets.min()}..{targets.max()}"
                )
            n_out = targets.shape[1]
        n_out = n if n_out is None else n_out
        if self.mask_chosen and n_out > n:
            raise ValueError(f"mask_chosen allows at most n={n} outputs, asked for {n_out}")
        out = []
        for i in range(n_out):
            u, state = self.scores(state)
            out.append(u)
            state = self.advance(state, targets[:, i] if targets is not None else u.argmax(-1))
        return torch.stack(out, dim=1)
