"""Backbones assembled from registered mixers.

``Block``: pre-norm residual block ``x + mixer(norm(x))`` then ``x + mlp(norm(x))``.
``SequenceModel``: input embedding (tokens or continuous vectors) + optional additive positional
encoding -> ``n_layers`` blocks -> final norm -> linear head, any registered mixer inside::

    model = SequenceModel(mixer="gateloop", d_model=64, n_layers=2, vocab_size=16)
    logits = model(tokens)                       # (batch, length, vocab_size)

Positions: ``positions`` (batch, length) integer tensor, ``arange(length)`` by default. With
``randomized_positions=M`` the model samples, during training, a sorted random subset of
``[0, M)`` of size ``length`` per sequence (Ruoss et al., "Randomized Positional Encodings Boost
Length Generalization of Transformers", arXiv 2305.16843); at evaluation it uses ``arange``.
Mixers that read positions (attention with RoPE/ALiBi) declare ``uses_positions = True``.
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.mixers.base import Mixer, reset_state
from seqlab.registry import Paper, create, register


class Block(nn.Module):
    """Pre-norm residual block around one mixer and a position-wise MLP."""

    def __init__(self, mixer: Mixer, d_model: int, mlp_ratio: float = 4.0, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(d_model) if mlp_ratio > 0 else None
        hidden = int(mlp_ratio * d_model)
        self.mlp = (
            nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model))
            if mlp_ratio > 0
            else None
        )
        self.drop = nn.Dropout(dropout)

    def _mix_kwargs(self, positions):
        return {"positions": positions} if getattr(self.mixer, "uses_positions", False) else {}

    def _mlp(self, x):
        return x if self.mlp is None else x + self.drop(self.mlp(self.norm2(x)))

    def forward(self, x, positions=None):
        x = x + self.drop(self.mixer(self.norm1(x), **self._mix_kwargs(positions)))
        return self._mlp(x)

    def forward_with_state(self, x, state, positions=None):
        y, state = self.mixer.forward_with_state(self.norm1(x), state, **self._mix_kwargs(positions))
        return self._mlp(x + self.drop(y)), state

    def step(self, x_t, state):
        y, state = self.mixer.step(self.norm1(x_t), state)
        x_t = x_t + y
        return (x_t if self.mlp is None else x_t + self.mlp(self.norm2(x_t))), state


@register(
    "model",
    "sequence_model",
    implements=Paper(
        "Randomized Positional Encodings Boost Length Generalization of Transformers", "2305.16843"
    ),
    used_by=["Randomized Positional Encodings Boost Length Generalization of Transformers"],
)
class SequenceModel(nn.Module):
    """Embedding -> blocks of one registered mixer -> head."""

    def __init__(
        self,
        mixer: str = "attention",
        d_model: int = 64,
        n_layers: int = 2,
        vocab_size: int | None = None,
        d_input: int | None = None,
        n_outputs: int | None = None,
        mixer_cfg: dict | None = None,
        pos_enc: str = "none",
        max_len: int = 4096,
        randomized_positions: int | None = None,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
    ):
        super().__init__()
        if (vocab_size is None) == (d_input is None):
            raise ValueError("SequenceModel needs exactly one of vocab_size (tokens) or d_input (vectors)")
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        self.vocab_size, self.d_input, self.d_model = vocab_size, d_input, d_model
        self.mixer_name = mixer
        self.embed = nn.Embedding(vocab_size, d_model) if vocab_size else nn.Linear(d_input, d_model)
        pe_range = max(max_len, randomized_positions or 0)
        self.pos = (
            None if pos_enc == "none" else create("positional", pos_enc, d_model=d_model, max_len=pe_range)
        )
        self.randomized_positions = randomized_positions
        cfg = dict(mixer_cfg or {})
        self.blocks = nn.ModuleList(
            Block(create("mixer", mixer, d_model=d_model, **cfg), d_model, mlp_ratio, dropout)
            for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        out = n_outputs if n_outputs is not None else vocab_size
        if out is None:
            raise ValueError("SequenceModel with continuous inputs needs n_outputs")
        self.head = nn.Linear(d_model, out)

    # -- inputs --------------------------------------------------------------------------
    def _check(self, inp: torch.Tensor) -> None:
        if self.vocab_size:
            if inp.dim() != 2 or inp.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
                raise ValueError(
                    f"SequenceModel expects integer tokens of shape (batch, length), got "
                    f"{inp.dtype} {tuple(inp.shape)}"
                )
            if inp.numel() and (inp.min() < 0 or inp.max() >= self.vocab_size):
                raise ValueError(
                    f"token ids must lie in [0, {self.vocab_size}), got {inp.min()}..{inp.max()}"
                )
        elif inp.dim() != 3 or inp.shape[-1] != self.d_input or not inp.is_floating_point():
            raise ValueError(
                f"SequenceModel expects float inputs of shape (batch, length, {self.d_input}), got "
                f"{inp.dtype} {tuple(inp.shape)}"
            )
        if inp.shape[1] == 0:
            raise ValueError("SequenceModel expects a non-empty sequence (length >= 1)")

    def make_positions(self, batch: int, length: int, device, generator=None) -> torch.Tensor:
        """``arange(length)``, or during training a sorted random subset of the larger range."""
        m = self.randomized_positions
        if m is None or not self.training:
            return torch.arange(length, device=device).expand(batch, length)
        if length > m:
            raise ValueError(f"sequence length {length} exceeds randomized position range {m}")
        keys = torch.rand(batch, m, generator=generator, device="cpu" if generator else device)
        return keys.topk(length, dim=1).indices.sort(dim=1).values.to(device)

    def embed_inputs(self, inp: torch.Tensor, positions: torch.Tensor | None = None):
        self._check(inp)
        x = self.embed(inp)
        if positions is None:
            positions = self.make_positions(x.shape[0], x.shape[1], x.device)
        if self.pos is not None and getattr(self.pos, "additive", True):
            x = x + self.pos(positions)
        return x, positions

    # -- modes ---------------------------------------------------------------------------
    def features(self, inp: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Final-norm hidden states (batch, length, d_model)."""
        x, positions = self.embed_inputs(inp, positions)
        for block in self.blocks:
            x = block(x, positions)
        return self.norm(x)

    def forward(self, inp: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(inp, positions))

    def init_state(self, batch: int, device=None, dtype=None):
        return {"t": 0, "layers": [b.mixer.init_state(batch, device, dtype) for b in self.blocks]}

    def forward_with_state(self, inp: torch.Tensor, state=None):
        """Chunked evaluation: feeding a then b with the returned state equals feeding a+b."""
        b, length = inp.shape[:2]
        if state is None:
            state = self.init_state(b, inp.device, self.head.weight.dtype)
        pos = (torch.arange(length, device=inp.device) + state["t"]).expand(b, length)
        x, _ = self.embed_inputs(inp, pos)
        new = []
        for block, s in zip(self.blocks, state["layers"]):
            x, s = block.forward_with_state(x, s, pos)
            new.append(s)
        return self.head(self.norm(x)), {"t": state["t"] + length, "layers": new}

    def step(self, inp_t: torch.Tensor, state=None):
        """One token (batch,) or vector (batch, d_input) at a time, through each mixer's step."""
        if state is None:
            state = self.init_state(inp_t.shape[0], inp_t.device, self.head.weight.dtype)
        pos = torch.full((inp_t.shape[0], 1), state["t"], device=inp_t.device)
        x, _ = self.embed_inputs(inp_t.unsqueeze(1), pos)
        x, new = x[:, 0], []
        for block, s in zip(self.blocks, state["layers"]):
            x, s = block.step(x, s)
            new.append(s)
        return self.head(self.norm(x)), {"t": state["t"] + 1, "layers": new}

    def reset_state(self, state, done: torch.Tensor):
        """Clear the per-layer state of sequences where ``done`` is true."""
        fresh = self.init_state(done.shape[0], done.device, self.head.weight.dtype)
        layers = [reset_state(s, done, f) for s, f in zip(state["layers"], fresh["layers"])]
        return {"t": state["t"], "layers": layers}
