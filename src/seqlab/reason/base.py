"""What every reasoner shares: the model check, the small backbone, embedding and loss helpers.

A reasoner wraps a language model that implements ``input_embeddings(ids)`` and
``forward_embeds(embeds) -> LMOutput(logits, hidden_states)`` (seqlab's
:class:`~seqlab.models.SequenceModel` and the models of :mod:`seqlab.lm`). It reads the structured
parts of a reasoning batch (:mod:`seqlab.tasks.reasoning_base`): ``question`` (left-padded, so
``BOT`` sits in one column for the whole batch), ``trace`` (one token per step), ``answer``.

Each reasoner implements

- ``loss(batch, stage=None) -> Tensor``: the training loss (``stage`` for curricula);
- ``predict(batch) -> Prediction``: answer tokens, discrete tokens generated per answer and
  continuous thoughts per answer;
- ``n_stages``: curriculum stages (0: none); :func:`seqlab.reason.train.fit` walks them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.tasks.reasoning_base import BOT, EOT


def check_lm(model) -> None:
    """Raise a clear error unless ``model`` can be fed continuous thoughts."""
    missing = [m for m in ("forward_embeds", "input_embeddings") if not callable(getattr(model, m, None))]
    if missing:
        raise ValueError(
            f"continuous thoughts need a model with forward_embeds(embeds) and input_embeddings(ids); "
            f"{type(model).__name__} lacks {', '.join(missing)}"
        )


def reasoning_model(
    vocab_size: int, d_model: int = 64, n_layers: int = 2, n_heads: int = 4, mixer="attention"
):
    """The small causal backbone the reasoners train here: a :class:`SequenceModel` (RoPE attention)."""
    from seqlab.models import SequenceModel

    cfg = {"n_heads": n_heads} if mixer == "attention" else None
    return SequenceModel(
        mixer=mixer, d_model=d_model, n_layers=n_layers, vocab_size=vocab_size, mixer_cfg=cfg
    )


@dataclass
class Prediction:
    """Answer tokens ``(n,)``; discrete tokens generated per answer ``(n,)``; thoughts per answer;
    the discrete steps written, when the method writes any (n, k)."""

    answer: torch.Tensor
    tokens: torch.Tensor
    thoughts: int = 0
    steps: torch.Tensor | None = None


def check_batch(batch: dict) -> int:
    """The batch's common trace length (reasoners need equal-length traces)."""
    for k in ("question", "trace", "trace_len", "answer"):
        if k not in batch:
            raise ValueError(f"a reasoner needs a reasoning-task batch with {k!r} (seqlab.tasks.reasoning_*)")
    lens = batch["trace_len"]
    if lens.numel() and not bool((lens == lens[0]).all()):
        raise ValueError(
            f"reasoners need traces of one length per batch, got lengths {sorted(set(lens.tolist()))}"
        )
    return int(lens[0]) if lens.numel() else 0


def tokens(n: int, value: int, like: torch.Tensor) -> torch.Tensor:
    return torch.full((n, 1), value, dtype=torch.long, device=like.device)


class Reasoner(nn.Module):
    """Base class: holds the model and the shared helpers."""

    n_stages = 0

    def __init__(self, model):
        super().__init__()
        check_lm(model)
        self.model = model

    # -- helpers -------------------------------------------------------------------------
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.input_embeddings(ids)

    def prefix(self, batch) -> torch.Tensor:
        """Embeddings of ``question BOT`` (batch, Lq + 1, d)."""
        q = batch["question"]
        return self.embed(torch.cat([q, tokens(q.shape[0], BOT, q)], 1))

    def run(self, embeds: torch.Tensor):
        return self.model.forward_embeds(embeds)

    def last_hidden(self, embeds: torch.Tensor) -> torch.Tensor:
        """The last layer's hidden state at the last position (batch, d): a continuous thought."""
        return self.run(embeds).hidden_states[-1][:, -1]

    def suffix_loss(self, head: torch.Tensor, suffix_in: torch.Tensor, suffix_out: torch.Tensor):
        """Cross-entropy of ``suffix_out`` (batch, k) given embeddings ``head`` followed by tokens
        ``suffix_in`` (batch, k): the output at ``suffix_in[:, j]`` predicts ``suffix_out[:, j]``."""
        if suffix_in.shape != suffix_out.shape or suffix_in.shape[1] == 0:
            raise ValueError("suffix_loss: suffix_in and suffix_out must have one non-empty shape")
        pred = self.run(torch.cat([head, self.embed(suffix_in)], 1)).logits[:, -suffix_in.shape[1] :]
        return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), suffix_out.reshape(-1))

    def language_suffix(self, batch, done_steps: int):
        """Tokens after the thoughts: input ``EOT s_{k+1} .. s_m``, output ``s_{k+1} .. s_m answer``."""
        trace, ans = batch["trace"], batch["answer"]
        rest = trace[:, done_steps:]
        n = ans.shape[0]
        return torch.cat([tokens(n, EOT, ans), rest], 1), torch.cat([rest, ans[:, None]], 1)

    def greedy_after(self, embeds: torch.Tensor, n_tokens: int) -> torch.Tensor:
        """Greedily decode ``n_tokens`` discrete tokens after ``embeds``; returns them (batch, n_tokens)."""
        out = []
        for _ in range(n_tokens):
            tok = self.run(embeds).logits[:, -1].argmax(-1)
            out.append(tok)
            embeds = torch.cat([embeds, self.embed(tok[:, None])], 1)
        return torch.stack(out, 1)

    def loss(self, batch, stage=None):
        raise NotImplementedError

    def predict(self, batch) -> Prediction:
        raise NotImplementedError
