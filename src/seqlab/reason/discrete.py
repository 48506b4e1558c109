"""The two discrete references every continuous method is compared with: chain of thought and no CoT.

- ``cot``: the model is trained on ``question BOT s_1 .. s_m EOT answer`` (cross-entropy on the
  steps, ``EOT`` and the answer) and at inference writes its own steps, one token each, then the
  answer. ``predict(batch)`` stops at the first ``EOT`` it writes; ``predict(batch, n_steps=k)``
  writes exactly ``k`` steps and then is given ``EOT`` ("equal length" comparisons). Steps are the
  argmax, or with ``sample=True`` a draw from the softmax with the given generator.
- ``no_cot``: trained on ``question BOT EOT answer``; answers right away (one token).

These are seqlab's references (supervised next-token training), not a paper's method.
"""

from __future__ import annotations

import torch

from seqlab.reason.base import Prediction, Reasoner, check_batch, tokens
from seqlab.registry import register
from seqlab.tasks.reasoning_base import BOT, EOT


def sample_token(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row drawn from ``softmax(logits)`` (batch,)."""
    return torch.multinomial(torch.softmax(logits.float(), -1), 1, generator=generator)[:, 0]


@register("reasoner", "cot", description="discrete chain of thought: one token per step, then the answer")
class DiscreteCoT(Reasoner):
    """Supervised discrete chain of thought (see the module docstring)."""

    def loss(self, batch, stage=None):
        check_batch(batch)
        q, trace, ans = batch["question"], batch["trace"], batch["answer"]
        n = q.shape[0]
        suffix_in = torch.cat([tokens(n, BOT, q), trace, tokens(n, EOT, q)], 1)
        suffix_out = torch.cat([trace, tokens(n, EOT, q), ans[:, None]], 1)
        return self.suffix_loss(self.embed(q), suffix_in, suffix_out)

    @torch.no_grad()
    def predict(self, batch, n_steps: int | None = None, sample: bool = False, generator=None) -> Prediction:
        m = check_batch(batch)
        embeds = self.prefix(batch)
        n = embeds.shape[0]
        if n_steps is not None:
            if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 0:
                raise ValueError(f"n_steps must be an int >= 0, got {n_steps!r}")
            steps = []
            for _ in range(n_steps):
                logits = self.run(embeds).logits[:, -1]
                tok = sample_token(logits, generator) if sample else logits.argmax(-1)
                steps.append(tok)
                embeds = torch.cat([embeds, self.embed(tok[:, None])], 1)
            embeds = torch.cat([embeds, self.embed(tokens(n, EOT, batch["answer"]))], 1)
            answer = self.run(embeds).logits[:, -1].argmax(-1)
            out = torch.stack(steps, 1) if steps else torch.zeros(n, 0, dtype=torch.long)
            return Prediction(answer, torch.full((n,), n_steps + 2), steps=out)
        budget = m + 2  # steps, EOT, answer
        gen = []
        for _ in range(budget):
            logits = self.run(embeds).logits[:, -1]
            tok = sample_token(logits, generator) if sample else logits.argmax(-1)
            gen.append(tok)
            embeds = torch.cat([embeds, self.embed(tok[:, None])], 1)
        gen = torch.stack(gen, 1)
        answer = torch.full((n,), -1, dtype=torch.long)
        used = torch.full((n,), budget)
        for i in range(n):
            row = gen[i].tolist()
            if EOT in row[:-1]:
                j = row.index(EOT)
                answer[i], used[i] = row[j + 1], j + 2
        return Prediction(answer, used, steps=gen)


@register("reasoner", "no_cot", description="no chain of thought: the answer right after the question")
class NoCoT(Reasoner):
    """Trained on ``question BOT EOT answer``; one token per answer."""

    def _head(self, batch):
        q = batch["question"]
        return self.embed(torch.cat([q, tokens(q.shape[0], BOT, q)], 1))

    def loss(self, batch, stage=None):
        check_batch(batch)
        ans = batch["answer"]
        return self.suffix_loss(self._head(batch), tokens(ans.shape[0], EOT, ans), ans[:, None])

    @torch.no_grad()
    def predict(self, batch) -> Prediction:
        check_batch(batch)
        ans = batch["answer"]
        embeds = torch.cat([self._head(batch), self.embed(tokens(ans.shape[0], EOT, ans))], 1)
        return Prediction(
            self.run(embeds).logits[:, -1].argmax(-1), torch.ones(ans.shape[0], dtype=torch.long)
        )
