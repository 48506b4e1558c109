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
- Policy optimisation (the paper's GRPO stage, after supervised training; :func:`fit_grpo`). The
  policy's action at step ``t`` is the ordered K-token draw ``(v_1 .. v_K)`` from ``p_t = softmax
  (logits_t)`` (``log pi = sum_k log p_t(v_k)``), fed back as their mean embedding, and after ``EOT``
  the answer token drawn from the softmax. For each question ``G`` rollouts are drawn with the
  policy before the update (``pi_old``) and rewarded ``R = 1`` for a right answer, else 0::

      A_g     = (R_g - mean(R)) / (std(R) + eps)           group-normalised (std unbiased, G - 1)
      rho_a   = pi(a) / pi_old(a)                           per action a (m steps + the answer)
      J       = mean_g mean_a [ min(rho_a A_g, clip(rho_a, 1 - e, 1 + e) A_g)
                                - beta KL_a ],   KL_a = pi_ref/pi - log(pi_ref/pi) - 1

  (the clipped surrogate of PPO with the group mean as baseline, and the unbiased per-action KL
  estimate to the frozen supervised model ``pi_ref``; ``beta = 0`` drops it). The loss is ``-J``;
  ``inner_steps`` updates reuse one set of rollouts (with 1 the ratio is 1 and the objective is the
  plain group-normalised policy gradient). The log-probabilities are recomputed in one parallel
  teacher-forced pass over the drawn tokens (:meth:`CoT2.action_logprobs`).
"""

from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F

from seqlab.reason.base import Prediction, Reasoner, check_batch, tokens
from seqlab.reason.coconut import _int
from seqlab.reason.discrete import sample_token
from seqlab.registry import Paper, register
from seqlab.tasks.reasoning_base import BOT, EOT


def group_advantages(rewards: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """GRPO's advantages ``(R - mean_g R) / (std_g R + eps)`` per row of ``rewards`` (questions, G);
    ``std`` is the unbiased sample standard deviation (a group with one reward gets zeros)."""
    if not isinstance(rewards, torch.Tensor) or rewards.dim() != 2 or rewards.shape[1] < 2:
        got = tuple(rewards.shape) if isinstance(rewards, torch.Tensor) else type(rewards).__name__
        raise ValueError(f"group advantages need rewards of shape (questions, G >= 2), got {got}")
    r = rewards.float()
    return (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + eps)


def grpo_objective(
    logp: torch.Tensor,
    logp_old: torch.Tensor,
    advantages: torch.Tensor,
    clip: float = 0.2,
    logp_ref: torch.Tensor | None = None,
    beta: float = 0.0,
) -> torch.Tensor:
    """The clipped GRPO loss ``-J`` (module docstring) from per-action log-probabilities ``logp``,
    ``logp_old`` (and ``logp_ref``) of shape (rollouts, actions) and one advantage per rollout."""
    if logp.dim() != 2 or logp_old.shape != logp.shape:
        raise ValueError(
            f"grpo_objective needs logp and logp_old of one shape (rollouts, actions), got "
            f"{tuple(logp.shape)} and {tuple(logp_old.shape)}"
        )
    if advantages.shape != logp.shape[:1]:
        raise ValueError(
            f"grpo_objective needs one advantage per rollout ({logp.shape[0]}), got {tuple(advantages.shape)}"
        )
    if not clip > 0 or beta < 0:
        raise ValueError(f"grpo_objective needs clip > 0 and beta >= 0, got clip={clip}, beta={beta}")
    ratio = torch.exp(logp - logp_old.detach())
    a = advantages.detach()[:, None]
    surrogate = torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
    if beta > 0:
        if logp_ref is None or logp_ref.shape != logp.shape:
            raise ValueError("grpo_objective with beta > 0 needs logp_ref of logp's shape")
        d = logp_ref.detach() - logp
        surrogate = surrogate - beta * (torch.exp(d) - d - 1)
    return -surrogate.mean()


def repeat_batch(batch: dict, group: int) -> dict:
    """Each question of a reasoning batch ``group`` times in a row (tensors along dim 0)."""
    return {
        k: v.repeat_interleave(group, 0) if isinstance(v, torch.Tensor) and v.dim() else v
        for k, v in batch.items()
    }


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

    def action_logprobs(self, batch, draws: torch.Tensor, answers: torch.Tensor, model=None):
        """Per-action log-probabilities (n, m + 1) of given K-token draws (n, m, K) and answers (n,):
        ``sum_k log p_t(v_k)`` for each step, then ``log p(answer)`` after ``EOT``, in one parallel
        teacher-forced pass of ``model`` (default the reasoner's; e.g. the GRPO reference)."""
        m = check_batch(batch)
        model = self.model if model is None else model
        q = batch["question"]
        n = q.shape[0]
        if draws.dim() != 3 or draws.shape[:2] != (n, m) or answers.shape != (n,):
            raise ValueError(
                f"action_logprobs needs draws (n={n}, m={m}, K) and answers (n,), got "
                f"{tuple(draws.shape)} and {tuple(answers.shape)}"
            )
        E = model.input_embeddings(torch.arange(int(model.vocab_size), device=q.device)[None])[0]
        head = model.input_embeddings(torch.cat([q, tokens(n, BOT, q)], 1))
        embeds = torch.cat([head, E[draws].mean(2), model.input_embeddings(tokens(n, EOT, q))], 1)
        lp = torch.log_softmax(model.forward_embeds(embeds).logits.float(), -1)
        p = q.shape[1]  # BOT's column: predicts step 1
        steps = lp[:, p : p + m].gather(-1, draws).sum(-1)
        ans = lp[:, p + m + 1].gather(-1, answers[:, None])
        return torch.cat([steps, ans], 1)

    @torch.no_grad()
    def sample_group(self, batch, group: int, K: int, generator=None) -> dict:
        """``group`` K-token rollouts of every question with a sampled answer: the repeated batch
        (``batch``), ``draws`` (n * group, m, K), ``answers`` and ``rewards`` (n, group)."""
        _int("group", group, 2)
        _int("K", K, 1)
        rep = repeat_batch(batch, group)
        r = self.rollout(rep, K=K, generator=generator)
        ans = rep["answer"]
        embeds = torch.cat([r["embeds"], self.embed(tokens(ans.shape[0], EOT, ans))], 1)
        answers = sample_token(self.run(embeds).logits[:, -1], generator)
        rewards = (answers == ans).float().view(-1, group)
        return {"batch": rep, "draws": r["tokens"], "answers": answers, "rewards": rewards}


def fit_grpo(
    reasoner: CoT2,
    task,
    *,
    steps: int,
    group: int = 8,
    K: int = 2,
    batch_size: int = 8,
    lr: float = 1e-4,
    clip: float = 0.2,
    beta: float = 0.0,
    inner_steps: int = 1,
    seed: int = 0,
    grad_clip: float = 1.0,
) -> dict:
    """GRPO on ``task``'s training split after supervised training (module docstring): ``steps``
    rounds of ``group`` rollouts per question of ``batch_size`` questions, ``inner_steps`` clipped
    updates each; the reference for the KL term is a frozen copy of the model at the start.
    Returns the mean reward per round, the last loss and seconds."""
    if not isinstance(reasoner, CoT2):
        raise ValueError(f"fit_grpo expects a CoT2 reasoner, got {type(reasoner).__name__}")
    for name, v in (("steps", steps), ("batch_size", batch_size), ("inner_steps", inner_steps)):
        _int(name, v, 1)
    _int("group", group, 2)
    _int("K", K, 1)
    if not clip > 0 or beta < 0:
        raise ValueError(f"fit_grpo needs clip > 0 and beta >= 0, got clip={clip}, beta={beta}")
    ref = None
    if beta > 0:
        ref = copy.deepcopy(reasoner.model).eval()
        ref.requires_grad_(False)
    opt = torch.optim.AdamW(reasoner.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    rewards, loss = [], float("nan")
    t0 = time.perf_counter()
    for step in range(steps):
        batch = task.sample(batch_size, seed=seed * 100_003 + 70_001 + step)
        reasoner.eval()  # one mode for sampling and updates: pi_old and pi are the same function
        g = reasoner.sample_group(batch, group, K, gen)
        rewards.append(float(g["rewards"].mean()))
        adv = group_advantages(g["rewards"]).reshape(-1)
        with torch.no_grad():
            old = reasoner.action_logprobs(g["batch"], g["draws"], g["answers"])
            lp_ref = (
                None if ref is None else reasoner.action_logprobs(g["batch"], g["draws"], g["answers"], ref)
            )
        reasoner.train()
        for _ in range(inner_steps):
            new = reasoner.action_logprobs(g["batch"], g["draws"], g["answers"])
            obj = grpo_objective(new, old, adv, clip, lp_ref, beta)
            opt.zero_grad()
            obj.backward()
            if grad_clip:
                torch.nn.utils.clip_grad_norm_(reasoner.parameters(), grad_clip)
            opt.step()
            loss = float(obj.detach())
    reasoner.eval()
    return {"rewards": rewards, "loss": loss, "train_seconds": time.perf_counter() - t0}
