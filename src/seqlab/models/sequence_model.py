"""Backbones assembled from registered mixers.

``Block``: pre-norm residual block ``x + mixer(norm(x))`` then ``x + mlp(norm(x))``.
``SequenceModel``: input embedding (tokens or continuous vectors) + optional additive positional
encoding -> ``n_layers`` blocks -> final norm -> linear head, any registered mixer inside::

    model = SequenceModel(mixer="gateloop", d_model=64, n_layers=2, vocab_size=16)
    logits = model(tokens)                       # (batch, length, vocab_size)

Hybrid stacks take one mixer name per layer, e.g. a recurrent stack with one attention layer (the
point of "RNNs are not Transformers (Yet): The Key Bottleneck on In-context Retrieval",
arXiv 2402.18510: one attention layer closes the retrieval gap)::

    SequenceModel(mixer=["gateloop", "attention", "gateloop"], n_layers=3, vocab_size=16,
                  mixer_cfg={"attention": {"n_heads": 1}, "gateloop": {"mode": "recurrent"}})

``mixer_cfg`` is either one dict of keyword arguments for every layer, or a dict keyed by mixer
name whose values apply to the layers of that mixer.

Positions: ``positions`` (batch, length) integer tensor, ``arange(length)`` by default. With
``randomized_positions=M`` the model samples, during training, a sorted random subset of
``[0, M)`` of size ``length`` per sequence (Ruoss et al., "Randomized Positional Encodings Boost
Length Generalization of Transformers", arXiv 2305.16843); at evaluation it uses ``arange``, or,
with ``random_positions_at_eval=True``, samples the sorted subset at evaluation too, as the
paper's reference code does. Mixers that read positions (attention with RoPE/ALiBi) declare
``uses_positions = True``.

Validation happens once, at the model boundary. Cheap checks (types, shapes, dtypes, the state's
structure and layer count) always run. Value checks (token ids in ``[0, vocab_size)``, finite
float inputs, non-negative positions) run once per model call on CPU, where they cost one
reduction and no synchronisation; on an accelerator they would force a device sync per call, so
they run there only when ``seqlab.debug.enabled()`` (``nn.Embedding`` still fails on a bad id).
Per-layer checks (each block's output finite, naming the layer) run only in debug mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqlab import debug
from seqlab.mixers.base import Mixer, reset_state
from seqlab.mixers.positional import check_positions
from seqlab.registry import Paper, create, names, register

TOKEN_DTYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)


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
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.uses_positions = bool(getattr(mixer, "uses_positions", False))

    def _mix_kwargs(self, positions):
        return {"positions": positions} if self.uses_positions and positions is not None else {}

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


def layer_mixers(mixer: str | Sequence[str], n_layers: int) -> list[str]:
    """One mixer name per layer: ``mixer`` repeated, or the given list (its length must be ``n_layers``)."""
    if isinstance(mixer, str):
        return [mixer] * n_layers
    if not isinstance(mixer, Sequence) or not all(isinstance(m, str) for m in mixer):
        raise ValueError(f"SequenceModel expects mixer as a name or a list of names, got {mixer!r}")
    if len(mixer) != n_layers:
        raise ValueError(
            f"SequenceModel expects one mixer name per layer: {n_layers} names for n_layers={n_layers}, "
            f"got {len(mixer)}: {list(mixer)}"
        )
    return list(mixer)


def layer_configs(mixer_cfg: dict | None, layers: list[str]) -> list[dict]:
    """Keyword arguments per layer from ``mixer_cfg``: one dict for all layers, or keyed by mixer name."""
    if mixer_cfg is None:
        return [{} for _ in layers]
    if not isinstance(mixer_cfg, dict):
        raise ValueError(f"SequenceModel expects mixer_cfg a dict, got {type(mixer_cfg).__name__}")
    known = set(names("mixer"))
    keyed = [k for k in mixer_cfg if k in known and isinstance(mixer_cfg[k], dict)]
    if not keyed:
        return [dict(mixer_cfg) for _ in layers]
    if len(keyed) != len(mixer_cfg):
        flat = sorted(set(mixer_cfg) - set(keyed))
        raise ValueError(
            f"SequenceModel expects mixer_cfg either keyed by mixer name or flat, got both: mixer keys "
            f"{sorted(keyed)} and other keys {flat}"
        )
    unused = sorted(set(keyed) - set(layers))
    if unused:
        raise ValueError(f"mixer_cfg has settings for mixers {unused} that are not in the stack {layers}")
    return [dict(mixer_cfg.get(m, {})) for m in layers]


@register(
    "model",
    "sequence_model",
    implements=Paper(
        "Randomized Positional Encodings Boost Length Generalization of Transformers", "2305.16843"
    ),
    used_by=["Randomized Positional Encodings Boost Length Generalization of Transformers"],
)
class SequenceModel(nn.Module):
    """Embedding -> blocks of registered mixers (one kind, or one per layer) -> head."""

    def __init__(
        self,
        mixer: str | Sequence[str] = "attention",
        d_model: int = 64,
        n_layers: int = 2,
        vocab_size: int | None = None,
        d_input: int | None = None,
        n_outputs: int | None = None,
        mixer_cfg: dict | None = None,
        pos_enc: str = "none",
        max_len: int = 4096,
        randomized_positions: int | None = None,
        random_positions_at_eval: bool = False,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
    ):
        super().__init__()
        if (vocab_size is None) == (d_input is None):
            raise ValueError("SequenceModel needs exactly one of vocab_size (tokens) or d_input (vectors)")
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be an int >= 1, got {n_layers!r}")
        if randomized_positions is not None and (
            not isinstance(randomized_positions, int) or randomized_positions < 1
        ):
            raise ValueError(
                f"randomized_positions must be a positive int or None, got {randomized_positions!r}"
            )
        if random_positions_at_eval and randomized_positions is None:
            raise ValueError(
                "random_positions_at_eval=True needs randomized_positions=M (the range to sample)"
            )
        self.vocab_size, self.d_input, self.d_model = vocab_size, d_input, d_model
        self.mixer_names = layer_mixers(mixer, n_layers)
        self.mixer_name = mixer if isinstance(mixer, str) else "+".join(self.mixer_names)
        configs = layer_configs(mixer_cfg, self.mixer_names)
        self.embed = nn.Embedding(vocab_size, d_model) if vocab_size else nn.Linear(d_input, d_model)
        pe_range = max(max_len, randomized_positions or 0)
        self.pos = (
            None if pos_enc == "none" else create("positional", pos_enc, d_model=d_model, max_len=pe_range)
        )
        self.randomized_positions = randomized_positions
        self.random_positions_at_eval = bool(random_positions_at_eval)
        self.blocks = nn.ModuleList(
            Block(create("mixer", name, d_model=d_model, **cfg), d_model, mlp_ratio, dropout)
            for name, cfg in zip(self.mixer_names, configs, strict=True)
        )
        self.norm = nn.LayerNorm(d_model)
        out = n_outputs if n_outputs is not None else vocab_size
        if out is None:
            raise ValueError("SequenceModel with continuous inputs needs n_outputs")
        self.head = nn.Linear(d_model, out)

    # -- inputs --------------------------------------------------------------------------
    def _check(self, inp: torch.Tensor) -> None:
        """Cheap structural checks always; value checks once per call (CPU) or in debug mode."""
        if not isinstance(inp, torch.Tensor):
            raise ValueError(f"SequenceModel expects a torch.Tensor input, got {type(inp).__name__}")
        if self.vocab_size:
            if inp.dim() != 2 or inp.dtype not in TOKEN_DTYPES:
                raise ValueError(
                    f"SequenceModel expects integer tokens of shape (batch, length), got "
                    f"{inp.dtype} {tuple(inp.shape)}"
                )
        elif inp.dim() != 3 or inp.shape[-1] != self.d_input or not inp.is_floating_point():
            raise ValueError(
                f"SequenceModel expects float inputs of shape (batch, length, {self.d_input}), got "
                f"{inp.dtype} {tuple(inp.shape)}"
            )
        if inp.shape[1] == 0:
            raise ValueError("SequenceModel expects a non-empty sequence (length >= 1)")
        if inp.shape[0] == 0:
            raise ValueError("SequenceModel expects batch >= 1, got an empty batch")
        if inp.device.type != "cpu" and not debug.enabled():
            return  # a value read would sync the device; nn.Embedding still rejects bad ids
        if self.vocab_size:
            lo, hi = torch.aminmax(inp)
            if lo < 0 or hi >= self.vocab_size:
                raise ValueError(f"token ids must lie in [0, {self.vocab_size}), got {int(lo)}..{int(hi)}")
        elif not torch.isfinite(inp).all():
            raise ValueError("SequenceModel expects finite float inputs, got NaN or inf")

    def _embed(self, inp: torch.Tensor) -> torch.Tensor:
        if self.vocab_size and inp.dtype not in (torch.int64, torch.int32):
            inp = inp.long()  # nn.Embedding takes int32/int64 ids only
        return self.embed(inp)

    def _check_layer(self, i: int, x: torch.Tensor) -> None:
        if debug.enabled() and not torch.isfinite(x).all():
            raise ValueError(f"SequenceModel layer {i} ({self.mixer_names[i]}) produced NaN or inf")

    def make_positions(self, batch: int, length: int, device, generator=None) -> torch.Tensor:
        """``arange(length)``, or a sorted random subset of ``[0, randomized_positions)`` while training
        (and at evaluation too with ``random_positions_at_eval``)."""
        m = self.randomized_positions
        if m is None or not (self.training or self.random_positions_at_eval):
            return torch.arange(length, device=device).expand(batch, length)
        if length > m:
            raise ValueError(f"sequence length {length} exceeds randomized position range {m}")
        keys = torch.rand(batch, m, generator=generator, device="cpu" if generator else device)
        return keys.topk(length, dim=1).indices.sort(dim=1).values.to(device)

    def _random_positions(self) -> bool:
        return self.randomized_positions is not None and (self.training or self.random_positions_at_eval)

    def embed_inputs(self, inp: torch.Tensor, positions: torch.Tensor | None = None):
        """Checked embedding plus additive positions; returns ``(x, positions)``.

        The returned ``positions`` are those given or sampled, or None for the default ``arange``
        (mixers then build their own ``arange`` and skip re-checking it in every layer).
        """
        self._check(inp)
        x = self._embed(inp)
        if positions is not None:
            positions = check_positions(positions, x.shape[0], x.shape[1], name="SequenceModel")
        elif self._random_positions():
            positions = self.make_positions(x.shape[0], x.shape[1], x.device)
        if self.pos is not None and getattr(self.pos, "additive", True):
            pos = positions
            if pos is None:
                pos = torch.arange(x.shape[1], device=x.device).expand(x.shape[0], x.shape[1])
            x = x + self.pos(pos)
        return x, positions

    def _check_state(self, state, batch: int) -> None:
        n = len(self.blocks)
        want = f"a dict {{'t': int, 'layers': list of {n} layer states}} from init_state"
        if not isinstance(state, dict) or set(state) != {"t", "layers"}:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"SequenceModel expects a state {want}, got {got}")
        t, layers = state["t"], state["layers"]
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise ValueError(f"SequenceModel expects state['t'] a non-negative int (tokens seen), got {t!r}")
        if not isinstance(layers, (list, tuple)) or len(layers) != n:
            got = f"{len(layers)} layers" if isinstance(layers, (list, tuple)) else type(layers).__name__
            raise ValueError(f"SequenceModel expects a state with {n} layers (one per block), got {got}")

    # -- modes ---------------------------------------------------------------------------
    def features(self, inp: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Final-norm hidden states (batch, length, d_model)."""
        x, positions = self.embed_inputs(inp, positions)
        for i, block in enumerate(self.blocks):
            x = block(x, positions)
            self._check_layer(i, x)
        return self.norm(x)

    def forward(self, inp: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(inp, positions))

    def init_state(self, batch: int, device=None, dtype=None):
        return {"t": 0, "layers": [b.mixer.init_state(batch, device, dtype) for b in self.blocks]}

    def forward_with_state(self, inp: torch.Tensor, state=None):
        """Chunked evaluation: feeding a then b with the returned state equals feeding a+b."""
        self._check(inp)
        b, length = inp.shape[:2]
        if state is None:
            state = self.init_state(b, inp.device, self.head.weight.dtype)
        self._check_state(state, b)
        pos = (torch.arange(length, device=inp.device) + state["t"]).expand(b, length)
        x = self._embed(inp)
        if self.pos is not None and getattr(self.pos, "additive", True):
            x = x + self.pos(pos)
        new = []
        for i, (block, s) in enumerate(zip(self.blocks, state["layers"], strict=True)):
            x, s = block.forward_with_state(x, s, pos)
            self._check_layer(i, x)
            new.append(s)
        return self.head(self.norm(x)), {"t": state["t"] + length, "layers": new}

    def step(self, inp_t: torch.Tensor, state=None):
        """One token (batch,) or vector (batch, d_input) at a time, through each mixer's step."""
        if not isinstance(inp_t, torch.Tensor):
            raise ValueError(f"SequenceModel.step expects a torch.Tensor, got {type(inp_t).__name__}")
        if state is None:
            state = self.init_state(inp_t.shape[0], inp_t.device, self.head.weight.dtype)
        self._check_state(state, inp_t.shape[0])
        inp = inp_t.unsqueeze(1)
        self._check(inp)
        x = self._embed(inp)
        if self.pos is not None and getattr(self.pos, "additive", True):
            x = x + self.pos(torch.full((inp_t.shape[0], 1), state["t"], device=inp_t.device))
        x, new = x[:, 0], []
        for i, (block, s) in enumerate(zip(self.blocks, state["layers"], strict=True)):
            x, s = block.step(x, s)
            self._check_layer(i, x)
            new.append(s)
        return self.head(self.norm(x)), {"t": state["t"] + 1, "layers": new}

    def reset_state(self, state, done: torch.Tensor):
        """Clear the per-layer state of sequences where ``done`` is true."""
        if not isinstance(done, torch.Tensor) or done.dim() != 1:
            raise ValueError(f"reset_state expects done a (batch,) bool tensor, got {done!r}")
        self._check_state(state, done.shape[0])
        fresh = self.init_state(done.shape[0], done.device, self.head.weight.dtype)
        layers = [reset_state(s, done, f) for s, f in zip(state["layers"], fresh["layers"], strict=True)]
        return {"t": state["t"], "layers": layers}

    # -- language-model interface (seqlab.lm.LanguageModel; used by seqlab.decode) ------
    padding_side = "none"  # no tokenizer: prompts are unpadded, equal-length rows
    eos_token_id = None
    pad_token_id = None

    @property
    def is_causal(self) -> bool:
        return bool(self.vocab_size) and all(getattr(b.mixer, "causal", True) for b in self.blocks)

    @property
    def n_layers(self) -> int:
        return len(self.blocks)

    @property
    def context_length(self) -> int | None:
        return getattr(self.pos, "max_len", None) if self.pos is not None else None

    def encode(self, texts):
        raise ValueError("SequenceModel has no tokenizer: give token ids, not texts (encode/decode need one)")

    def decode(self, ids):
        raise ValueError("SequenceModel has no tokenizer: it cannot turn ids into texts")

    def _lm_mask(self, mask, shape) -> None:
        if mask is not None and (tuple(mask.shape) != tuple(shape) or not bool((mask == 1).all())):
            raise ValueError("SequenceModel has no padding: pass equal-length rows (mask None or all 1)")

    def input_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        self._check(ids)
        return self.embed(ids)

    def hidden_states(self, ids: torch.Tensor, mask=None) -> tuple[torch.Tensor, ...]:
        """``n_layers + 1`` tensors (B, T, d): embeddings (+ positions), each block (last normed)."""
        self._lm_mask(mask, ids.shape)
        return self._hidden(*self.embed_inputs(ids))

    def _hidden(self, x, positions=None):
        out = [x]
        for i, block in enumerate(self.blocks):
            x = block(x, positions)
            self._check_layer(i, x)
            out.append(x)
        out[-1] = self.norm(out[-1])
        return tuple(out)

    def forward_embeds(self, embeds: torch.Tensor, mask=None):
        """Run from continuous vectors (B, T, d_model) in place of the token embeddings."""
        if not isinstance(embeds, torch.Tensor) or embeds.dim() != 3 or embeds.shape[-1] != self.d_model:
            raise ValueError(f"forward_embeds expects (batch, length, {self.d_model}) floats, got {embeds!r}")
        if not bool(torch.isfinite(embeds).all()):
            raise ValueError("forward_embeds expects finite input embeddings, got NaN or inf")
        self._lm_mask(mask, embeds.shape[:2])
        x = embeds
        if self.pos is not None and getattr(self.pos, "additive", True):
            x = x + self.pos(torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1))
        hs = self._hidden(x)
        from seqlab.lm.interface import LMOutput  # a torch-only leaf module

        return LMOutput(self.head(hs[-1]), hs)

    def logits(self, ids: torch.Tensor, mask=None) -> torch.Tensor:
        self._lm_mask(mask, ids.shape)
        return self(ids)

    def prefill(self, ids: torch.Tensor, mask=None):
        """Run the prompt through the chunked mode: last-position logits (B, V) and the state."""
        self._lm_mask(mask, ids.shape)
        logits, state = self.forward_with_state(ids)
        return logits[:, -1].float(), state

    def reorder_state(self, state, index: torch.Tensor):
        """Rows ``index`` of a state (every mixer's ``reorder_state``), for beam search."""
        if not isinstance(state, dict) or "layers" not in state:
            got = type(state).__name__
            raise ValueError(f"reorder_state expects a SequenceModel state from init_state, got {got}")
        self._check_state(state, int(index.numel()))
        layers = [b.mixer.reorder_state(s, index) for b, s in zip(self.blocks, state["layers"], strict=True)]
        return {"t": state["t"], "layers": layers}
