"""PCCoT: parallel continuous chain of thought by Jacobi iteration.

"Parallel Continuous Chain-of-Thought with Jacobi Iteration" (Wu et al., arXiv 2506.18582).
Sequential continuous thoughts (Coconut) need one forward pass per thought. PCCoT updates all ``n``
thoughts at once, for ``T`` iterations::

    z^(0)_i       = z_init                       (a learned vector), i = 1 .. n
    z^(j)_i       = hidden_states[-1](e_1 .. e_P, z^(j-1)_1 .. z^(j-1)_n)[position P + i - 1]

i.e. thought ``i`` is the last hidden state at the position before it (``BOT`` for ``i = 1``),
computed from the previous iterate. In a causal model thought ``i`` depends only on the thoughts
before it, so after ``j`` iterations the first ``j`` thoughts equal the sequential ones: ``T = n``
reproduces Coconut exactly, and ``T < n`` trades exactness for ``T`` instead of ``n`` passes. After
the last iteration come ``EOT`` and the answer (cross-entropy on the answer, through every
iteration).
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.reason.base import Prediction, Reasoner, check_batch, tokens
from seqlab.reason.coconut import _int
from seqlab.registry import Paper, register
from seqlab.tasks.reasoning_base import EOT

PCCOT = Paper("Parallel Continuous Chain-of-Thought with Jacobi Iteration", "2506.18582")


@register(
    "reasoner",
    "pccot",
    implements=PCCOT,
    used_by=[PCCOT.title],
    description="Jacobi iteration: all latent thoughts updated in parallel for T iterations",
)
class PCCoT(Reasoner):
    """``n_thoughts`` latent thoughts refined in parallel for ``iterations`` Jacobi steps."""

    def __init__(self, model, n_thoughts: int, iterations: int):
        super().__init__(model)
        _int("n_thoughts", n_thoughts, 1)
        _int("iterations", iterations, 1)
        self.n, self.T = n_thoughts, iterations
        d = int(model.d_model)
        self.z_init = nn.Parameter(torch.randn(d, generator=torch.Generator().manual_seed(0)) * 0.5)

    def jacobi(self, prefix: torch.Tensor, iterations: int | None = None, history: bool = False):
        """The thoughts (B, n, d) after ``iterations`` (default ``T``) updates; with ``history`` a list
        of every iterate."""
        T = self.T if iterations is None else iterations
        _int("iterations", T, 1)
        b, p = prefix.shape[:2]
        z = self.z_init.to(prefix.dtype).expand(b, self.n, -1)
        seen = []
        for _ in range(T):
            hs = self.run(torch.cat([prefix, z], 1)).hidden_states[-1]
            z = hs[:, p - 1 : p - 1 + self.n]
            seen.append(z)
        return seen if history else z

    def loss(self, batch, stage=None):
        check_batch(batch)
        prefix = self.prefix(batch)
        head = torch.cat([prefix, self.jacobi(prefix)], 1)
        ans = batch["answer"]
        return self.suffix_loss(head, tokens(ans.shape[0], EOT, ans), ans[:, None])

    @torch.no_grad()
    def predict(self, batch, iterations: int | None = None) -> Prediction:
        check_batch(batch)
        prefix = self.prefix(batch)
        ans = batch["answer"]
        head = torch.cat(
            [prefix, self.jacobi(prefix, iterations), self.embed(tokens(ans.shape[0], EOT, ans))], 1
        )
        answer = self.run(head).logits[:, -1].argmax(-1)
        return Prediction(answer, torch.ones(ans.shape[0], dtype=torch.long), thoughts=self.n)
