"""SoftCoT: soft thought tokens from a small assistant, projected into a frozen backbone.

"SoftCoT: Soft Chain-of-Thought for Efficient Reasoning with LLMs" (Xu et al., arXiv 2502.12134).
A small frozen *assistant* model reads the question followed by ``N`` placeholder tokens; its
last-layer hidden states at the placeholders are the soft thoughts ``t_1 .. t_N`` (dimension
``d_a``). A trainable projection maps them into the frozen *backbone*'s input-embedding space
(dimension ``d_b``), where they are inserted after the question::

    t_{1..N}  = hidden_states[-1]( assistant(question PH .. PH) )[placeholder positions]
    u_i       = W t_i + b                                   (W: d_b x d_a, b: the only trained weights)
    backbone  : question u_1 .. u_N BOT s_1 .. s_n EOT answer

Only ``W, b`` train (cross-entropy of the backbone's steps, ``EOT`` and answer, teacher forced);
the assistant and the backbone stay frozen, so the backbone keeps everything it knew.

At this scale the backbone is a small model pretrained here, and a model never shown anything
between its question and ``BOT`` is derailed by any inserted vector. So both models are pretrained
with a slot of ``N`` placeholder tokens ``PH`` after the question (:class:`Slotted`, the analogue
of the slot an instruction template gives an LLM), and the projection starts at ``W = 0``,
``b = E_backbone[PH]``: the untrained SoftCoT is exactly the frozen backbone reading its own
placeholders, and training can only move it from there. At inference
the backbone writes ``n`` steps after the soft thoughts, is given ``EOT`` and answers (the same
fixed-length decoding as :meth:`DiscreteCoT.predict` with ``n_steps``, so "the frozen backbone
without soft thoughts" is exactly that call on the backbone).

Any pair of models with ``input_embeddings`` / ``forward_embeds`` works: seqlab's small models on
the reasoning tasks, or a real pair such as ``minilm-l6`` (d 384) into ``smollm2-135m`` (d 576)
through :meth:`SoftCoT.thought_embeddings` and :meth:`SoftCoT.lm_loss` on token ids of each
model's own tokenizer.
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.reason.base import Prediction, Reasoner, check_batch, check_lm, tokens
from seqlab.reason.coconut import _int
from seqlab.registry import Paper, register
from seqlab.tasks.reasoning_base import BOT, EOT, SEP

SOFTCOT = Paper("SoftCoT: Soft Chain-of-Thought for Efficient Reasoning with LLMs", "2502.12134")


def _freeze(model) -> None:
    params = model.parameters() if callable(getattr(model, "parameters", None)) else ()
    for p in params:
        p.requires_grad_(False)


def with_slots(batch: dict, n: int, token: int = SEP) -> dict:
    """``batch`` with ``n`` placeholder tokens appended to every question."""
    q = batch["question"]
    return {**batch, "question": torch.cat([q, torch.full((q.shape[0], n), token, dtype=q.dtype)], 1)}


class Slotted:
    """A reasoning task whose questions end with ``n`` placeholder tokens (pretraining with a slot)."""

    def __init__(self, task, n: int, token: int = SEP):
        _int("n", n, 1)
        self.task, self.n, self.token = task, n, token

    def sample(self, n, seed=None, split="train", **kw):
        return with_slots(self.task.sample(n, seed=seed, split=split, **kw), self.n, self.token)

    def __getattr__(self, name):
        if name == "task":  # not set yet (copy / unpickling)
            raise AttributeError(name)
        return getattr(self.task, name)


@register(
    "reasoner",
    "softcot",
    implements=SOFTCOT,
    used_by=[SOFTCOT.title],
    description="frozen assistant's soft thoughts, projected into a frozen backbone (only W, b train)",
)
class SoftCoT(Reasoner):
    """``model``: the frozen backbone; ``assistant``: the frozen assistant; ``n_thoughts`` = N;
    ``placeholder``: the assistant's placeholder token; ``slot``: the backbone token whose embedding
    the projection's bias starts at (None: zero)."""

    def __init__(self, model, assistant, n_thoughts: int = 4, placeholder: int = SEP, slot: int | None = SEP):
        super().__init__(model)
        check_lm(assistant)
        _int("n_thoughts", n_thoughts, 1)
        _int("placeholder", placeholder, 0)
        self.assistant = assistant
        self.n_thoughts, self.placeholder = n_thoughts, placeholder
        _freeze(model)
        _freeze(assistant)
        d_a, d_b = int(assistant.d_model), int(model.d_model)
        self.proj = nn.Linear(d_a, d_b)
        with torch.no_grad():
            ref = self.model.input_embeddings(torch.tensor([[0 if slot is None else slot]]))[0, 0]
            self._dtype = ref.dtype
            self.proj.weight.zero_()
            self.proj.bias.copy_(ref.float() if slot is not None else torch.zeros(d_b))

    def thought_embeddings(self, assistant_ids: torch.Tensor) -> torch.Tensor:
        """Projected soft thoughts (B, N, d_b) for the assistant's prompt ``assistant_ids`` (B, L)."""
        if not isinstance(assistant_ids, torch.Tensor) or assistant_ids.dim() != 2:
            raise ValueError(f"assistant_ids must be token ids (batch, length), got {assistant_ids!r}")
        ph = torch.full((assistant_ids.shape[0], self.n_thoughts), self.placeholder, dtype=torch.long)
        with torch.no_grad():
            embeds = self.assistant.input_embeddings(torch.cat([assistant_ids, ph], 1))
            hs = self.assistant.forward_embeds(embeds).hidden_states[-1][:, -self.n_thoughts :]
        return self.proj(hs.float()).to(self._dtype)

    def lm_loss(self, assistant_ids, prefix_ids, suffix_in, suffix_out) -> torch.Tensor:
        """Backbone cross-entropy on ``prefix u_1 .. u_N suffix_in``: the output at ``suffix_in[:, j]``
        predicts ``suffix_out[:, j]``."""
        head = torch.cat([self.embed(prefix_ids), self.thought_embeddings(assistant_ids)], 1)
        return self.suffix_loss(head, suffix_in, suffix_out)

    # -- reasoning tasks (one vocabulary shared by assistant and backbone) ------------------------
    def loss(self, batch, stage=None):
        check_batch(batch)
        q, trace, ans = batch["question"], batch["trace"], batch["answer"]
        n = q.shape[0]
        suffix_in = torch.cat([tokens(n, BOT, q), trace, tokens(n, EOT, q)], 1)
        suffix_out = torch.cat([trace, tokens(n, EOT, q), ans[:, None]], 1)
        return self.lm_loss(q, q, suffix_in, suffix_out)

    @torch.no_grad()
    def predict(self, batch, n_steps: int | None = None) -> Prediction:
        m = check_batch(batch) if n_steps is None else n_steps
        _int("n_steps", m, 0)
        q = batch["question"]
        n = q.shape[0]
        head = torch.cat([self.embed(q), self.thought_embeddings(q), self.embed(tokens(n, BOT, q))], 1)
        steps = self.greedy_after(head, m) if m else q[:, :0]
        head = torch.cat([head, self.embed(steps), self.embed(tokens(n, EOT, q))], 1)
        answer = self.run(head).logits[:, -1].argmax(-1)
        return Prediction(answer, torch.full((n,), m + 2), thoughts=self.n_thoughts, steps=steps)
