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

Training objectives (``objective=``):

- ``"answer"`` (default): the cross-entropy of the answer after the thoughts, as above.
- ``"codi"``: the self-distillation the paper trains with (after CODI, "CODI: Compressing
  Chain-of-Thought into Continuous Space via Self-Distillation", Shen et al., arXiv 2502.21074).
  The *teacher* is the same model reading the discrete chain of thought
  ``question BOT s_1 .. s_m EOT``; the *student* reads ``question BOT z_1 .. z_n EOT`` (the Jacobi
  thoughts). With ``h^l`` the layer-``l`` hidden state at the answer-preceding token (``EOT``),
  ``l = 1 .. L`` (index 0, the input embedding, is excluded)::

      L = w_s CE(answer | student) + w_t CE(s_1 .. s_m EOT answer | teacher)
          + w_d (1/L) sum_l dist(sg(h^l_teacher), h^l_student) / sigma_l

  ``dist`` is the mean absolute (``"l1"``) or mean squared (``"l2"``) difference over the batch and
  the hidden dimensions, ``sg`` stops the gradient (the teacher is pulled only by its own CE), and
  ``sigma_l`` is the standard deviation of the teacher's layer-``l`` states at that token (over batch
  and dimensions, also without gradient) when ``normalise`` (CODI's scale-free distance), else 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.reason.base import Prediction, Reasoner, check_batch, tokens
from seqlab.reason.coconut import _int
from seqlab.registry import Paper, register
from seqlab.tasks.reasoning_base import EOT

OBJECTIVES = ("answer", "codi")
DISTANCES = ("l1", "l2")

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

    def __init__(
        self,
        model,
        n_thoughts: int,
        iterations: int,
        objective: str = "answer",
        codi_weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        distance: str = "l1",
        normalise: bool = True,
    ):
        super().__init__(model)
        _int("n_thoughts", n_thoughts, 1)
        _int("iterations", iterations, 1)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if distance not in DISTANCES:
            raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
        w = tuple(codi_weights) if isinstance(codi_weights, (tuple, list)) else ()
        if len(w) != 3 or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in w
        ):
            raise ValueError(
                f"codi_weights must be three non-negative numbers (student CE, teacher CE, distillation), "
                f"got {codi_weights!r}"
            )
        self.n, self.T = n_thoughts, iterations
        self.objective, self.codi_weights = objective, tuple(float(x) for x in w)
        self.distance, self.normalise = distance, bool(normalise)
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

    def codi_parts(self, batch) -> dict:
        """The three terms of the ``"codi"`` objective (module docstring): ``student`` (answer CE after
        the thoughts), ``teacher`` (CE of the CoT, ``EOT`` and the answer) and ``distill``."""
        check_batch(batch)
        q, trace, ans = batch["question"], batch["trace"], batch["answer"]
        b = q.shape[0]
        prefix = self.prefix(batch)
        eot = self.embed(tokens(b, EOT, q))
        student = self.run(torch.cat([prefix, self.jacobi(prefix), eot], 1))
        teacher = self.run(torch.cat([prefix, self.embed(trace), eot], 1))
        ce_s = F.cross_entropy(student.logits[:, -1].float(), ans)
        m = trace.shape[1]
        t_logits = teacher.logits[:, -(m + 2) :].float()  # BOT, s_1 .. s_m, EOT predict s_1 .. answer
        t_out = torch.cat([trace, tokens(b, EOT, q), ans[:, None]], 1)
        ce_t = F.cross_entropy(t_logits.reshape(-1, t_logits.shape[-1]), t_out.reshape(-1))
        terms = []
        for hs, ht in zip(student.hidden_states[1:], teacher.hidden_states[1:], strict=True):
            target = ht[:, -1].detach().float()
            diff = hs[:, -1].float() - target
            d = diff.abs().mean() if self.distance == "l1" else diff.pow(2).mean()
            if self.normalise:
                d = d / (target.std() + 1e-6)
            terms.append(d)
        return {"student": ce_s, "teacher": ce_t, "distill": torch.stack(terms).mean()}

    def loss(self, batch, stage=None):
        if self.objective == "codi":
            parts = self.codi_parts(batch)
            ws, wt, wd = self.codi_weights
            return ws * parts["student"] + wt * parts["teacher"] + wd * parts["distill"]
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
