"""Coconut: chain of continuous thought.

"Training Large Language Models to Reason in a Continuous Latent Space" (Hao et al., arXiv
2412.06769). Instead of decoding a step into a word token, the last hidden state of the model at
the last position is appended as the next input embedding::

    e_1 .. e_P            = embeddings of  question BOT
    h_t                   = hidden_states[-1](e_1 .. e_{P+t-1})[last position]      t = 1 .. n
    input after thought t = e_1 .. e_P h_1 .. h_t

then ``EOT``, the remaining language steps and the answer. Training follows the paper's staged
curriculum: at stage ``k`` the first ``k`` steps of the discrete chain of thought are replaced by
``c * k`` continuous thoughts (``c`` = ``thoughts_per_step``) and the loss is the cross-entropy of
the remaining steps and the answer (none on the question or the thoughts); stage 0 is plain CoT.
There cannot be more stages than steps (ValueError). Gradients flow through every thought
(back-propagation through the recurrence of hidden states).

The "BFS reading" of a thought: the model's own output head applied to a thought gives a
distribution over the vocabulary; on graph tasks the probability mass on the frontier nodes
(children reached in ``i`` steps) versus other nodes shows the thought keeping several branches
alive (:meth:`Coconut.read_thought`, :func:`frontier_mass`).
"""

from __future__ import annotations

import torch

from seqlab.reason.base import Prediction, Reasoner, check_batch, tokens
from seqlab.registry import Paper, register
from seqlab.tasks.reasoning_base import EOT

COCONUT = Paper("Training Large Language Models to Reason in a Continuous Latent Space", "2412.06769")


def _int(name, v, minimum):
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {v!r}")


@register(
    "reasoner",
    "coconut",
    implements=COCONUT,
    used_by=[COCONUT.title],
    description="last hidden state fed back as the next input embedding; staged curriculum",
)
class Coconut(Reasoner):
    """Continuous thoughts by feeding back the last hidden state (see the module docstring)."""

    def __init__(self, model, cot_steps: int, n_stages: int | None = None, thoughts_per_step: int = 1):
        super().__init__(model)
        _int("cot_steps", cot_steps, 1)
        n_stages = cot_steps if n_stages is None else n_stages
        _int("n_stages", n_stages, 0)
        _int("thoughts_per_step", thoughts_per_step, 1)
        if n_stages > cot_steps:
            raise ValueError(
                f"a Coconut curriculum cannot have more stages ({n_stages}) than CoT steps ({cot_steps}): "
                f"stage k replaces the first k steps"
            )
        self.cot_steps, self.n_stages, self.c = cot_steps, n_stages, thoughts_per_step

    def n_thoughts(self, stage: int) -> int:
        return self.c * stage

    def _stage(self, stage):
        stage = self.n_stages if stage is None else stage
        if isinstance(stage, bool) or not isinstance(stage, int) or not 0 <= stage <= self.n_stages:
            raise ValueError(f"stage must be an int in [0, {self.n_stages}], got {stage!r}")
        return stage

    def thoughts(self, embeds: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``n`` continuous thoughts to ``embeds``; returns (extended embeds, thoughts (B, n, d))."""
        out = []
        for _ in range(n):
            h = self.last_hidden(embeds)
            out.append(h)
            embeds = torch.cat([embeds, h[:, None]], 1)
        th = torch.stack(out, 1) if out else embeds[:, :0]
        return embeds, th

    def _check(self, batch):
        m = check_batch(batch)
        if m != self.cot_steps:
            raise ValueError(f"Coconut built for {self.cot_steps} CoT steps, the batch has {m}")
        return m

    def loss(self, batch, stage=None):
        self._check(batch)
        stage = self._stage(stage)
        head, _ = self.thoughts(self.prefix(batch), self.n_thoughts(stage))
        suffix_in, suffix_out = self.language_suffix(batch, stage)
        return self.suffix_loss(head, suffix_in, suffix_out)

    @torch.no_grad()
    def predict(self, batch, stage=None) -> Prediction:
        m = self._check(batch)
        stage = self._stage(stage)
        n = self.n_thoughts(stage)
        head, _ = self.thoughts(self.prefix(batch), n)
        ans = batch["answer"]
        head = torch.cat([head, self.embed(tokens(ans.shape[0], EOT, ans))], 1)
        written = self.greedy_after(head, m - stage + 1)  # remaining steps, then the answer
        return Prediction(
            written[:, -1], torch.full((ans.shape[0],), m - stage + 1), thoughts=n, steps=written
        )

    def read_thought(self, thought: torch.Tensor) -> torch.Tensor:
        """``softmax(head(thought))``: the distribution over the vocabulary a thought decodes to."""
        head = getattr(self.model, "head", None)
        if head is None:
            raise ValueError(
                f"reading a thought needs the model's output head; {type(self.model).__name__} has none"
            )
        return torch.softmax(head(thought).float(), -1)


def frontier_mass(probs: torch.Tensor, groups: dict[str, list[int]]) -> dict[str, float]:
    """Total probability of each group of tokens in ``probs`` (vocab,): e.g. frontier vs other nodes."""
    if probs.dim() != 1:
        raise ValueError(f"frontier_mass expects one distribution (vocab,), got shape {tuple(probs.shape)}")
    return {k: float(probs[list(v)].sum()) if v else 0.0 for k, v in groups.items()}
