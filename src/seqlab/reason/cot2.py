"""CoT2: continuous tokens that are distributions over the vocabulary.

"Continuous Chain of Thought Enables Parallel Exploration and Reasoning" (Gozeten et al., arXiv
2505.23648). A step is not one token but a distribution ``a_t`` over the vocabulary, fed back as
the mixture of token embeddings ``z_t = sum_v a_t(v) E_v``; one continuous token can carry several
search branches at once (all partial sums of a subset-sum search).

- Multi-trace supervision (teacher forcing, one parallel pass): the input after ``question BOT``
  is ``z*_1 .. z*_m`` with ``z*_t`` the mixture of the *target* distribution ``q_t`` -- the empirical
  distribution of step ``t`` over a set of valid traces (the task's ``trace_dist``; the one-hot
  trace when it has none) -- then ``EOT``. The loss is ``sum_t CE(q_t, softmax(logits_{t}))``
  (soft cross-entropy) plus the cross-entropy of ``EOT`` and of the answer.
- Inference, continuous (``K=None``): ``a_t = softmax(logits)``, ``z_t = a_t E``.
- Inference with K-token sampling: draw ``K`` tokens from ``softmax(logits)`` (with replacement)
  and feed the mean of their embeddings. ``K = 1`` is discrete chain of thought: the same model,
  generator and draws give exactly :class:`~seqlab.reason.discrete.DiscreteCoT`'s fixed-length
  rollout (``greedy=True``: the argmax instead of a draw).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seqlab.reason.base import Prediction, Reasoner, check_batch, tokens
from seqlab.reason.discrete import sample_token
from seqlab.registry import Paper, register
from seqlab.tasks.reasoning_base import EOT

COT2 = Paper("Continuous Chain of Thought Enables Parallel Exploration and Reasoning", "2505.23648")


@register(
    "reasoner",
    "cot2",
    implements=COT2,
    used_by=[COT2.title],
    description="continuous tokens = distributions over the vocabulary; multi-trace supervision; K-sampling",
)
class CoT2(Reasoner):
    """Continuous tokens ``z_t = softmax(logits_t) E`` (see the module docstring)."""

    def table(self) -> torch.Tensor:
        """The input embedding table (vocab, d)."""
        v = int(self.model.vocab_size)
        return self.embed(torch.arange(v, device=self._device())[None])[0]

    def _device(self):
        return next(self.model.parameters()).device

    def targets(self, batch) -> torch.Tensor:
        """``q_t`` (n, m, vocab): the batch's ``trace_dist``, or the one-hot trace."""
        if "trace_dist" in batch:
            return batch["trace_dist"].float()
        return F.one_hot(batch["trace"], int(self.model.vocab_size)).float()

    def loss(self, batch, stage=None):
        m = check_batch(batch)
        q, ans = batch["question"], batch["answer"]
        n = q.shape[0]
        dist = self.targets(batch)
        z = dist @ self.table()  # (n, m, d) teacher-forced continuous tokens
        embeds = torch.cat([self.prefix(batch), z, self.embed(tokens(n, EOT, q))], 1)
        logits = self.run(embeds).logits
        p = q.shape[1]  # position of BOT: predicts step 1
        step_logits = logits[:, p : p + m]
        soft = -(dist * torch.log_softmax(step_logits.float(), -1)).sum(-1).mean()
        hard_logits = logits[:, p + m : p + m + 2]  # last step -> EOT, EOT -> answer
        hard = F.cross_entropy(
            hard_logits.reshape(-1, hard_logits.shape[-1]),
            torch.stack([torch.full_like(ans, EOT), ans], 1).reshape(-1),
        )
        return soft * m / (m + 2) + hard * 2 / (m + 2)

    @torch.no_grad()
    def rollout(self, batch, K: int | None = None, greedy: bool = False, generator=None):
        """The ``m`` continuous tokens (n, m, d), their distributions (n, m, vocab) and, when sampling,
        the drawn tokens (n, m, K)."""
        m = check_batch(batch)
        if K is not None and (isinstance(K, bool) or not isinstance(K, int) or K < 1):
            raise ValueError(f"K must be None (continuous) or an int >= 1, got {K!r}")
        if greedy and K != 1:
            raise ValueError("greedy decoding is the K=1 case (argmax); pass K=1")
        E = self.table()
        embeds = self.prefix(batch)
        zs, dists, draws = [], [], []
        for _ in range(m):
            logits = self.run(embeds).logits[:, -1].float()
            a = torch.softmax(logits, -1)
            if K is None:
                z = a @ E
            else:
                if greedy:
                    idx = logits.argmax(-1)[:, None]
                else:
                    idx = torch.stack([sample_token(logits, generator) for _ in range(K)], 1)
                draws.append(idx)
                z = E[idx].mean(1)
            zs.append(z)
            dists.append(a)
            embeds = torch.cat([embeds, z[:, None].to(embeds.dtype)], 1)
        out = {"z": torch.stack(zs, 1), "dist": torch.stack(dists, 1), "embeds": embeds}
        if draws:
            out["tokens"] = torch.stack(draws, 1)
        return out

    @torch.no_grad()
    def predict(self, batch, K: int | None = None, greedy: bool = False, generator=None) -> Prediction:
        m = check_batch(batch)
        r = self.rollout(batch, K, greedy, generator)
        ans = batch["answer"]
        embeds = torch.cat([r["embeds"], self.embed(tokens(ans.shape[0], EOT, ans))], 1)
        answer = self.run(embeds).logits[:, -1].argmax(-1)
        steps = r["tokens"][..., 0] if K == 1 else None
        return Prediction(answer, torch.ones(ans.shape[0], dtype=torch.long), thoughts=m, steps=steps)
