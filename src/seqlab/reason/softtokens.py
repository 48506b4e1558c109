"""Soft and fuzzy chain-of-thought tokens trained with reinforcement learning.

"Soft Tokens, Hard Truths" (Butt et al., arXiv 2509.19170). A policy writes ``n`` chain-of-thought
tokens and then, after ``EOT``, an answer that a checker rewards (1 if right, 0 if not). The CoT
inputs are one of three kinds, with ``p_t = softmax(logits_t / tau)`` and the embedding table ``E``:

- ``hard``:  a token ``s_t ~ p_t`` and its embedding ``x_t = E[s_t]`` (ordinary discrete CoT);
- ``soft``:  the mixture ``mu_t = p_t E`` plus exploration noise, ``x_t = mu_t + sigma * eps``;
- ``fuzzy``: the soft token at a temperature near 0 (``mu_t ~ E[argmax]``) plus the same noise.

The answer is drawn from the policy's softmax after ``EOT``. Training is REINFORCE with a
leave-one-out baseline over ``G`` rollouts of each question::

    A_g = R_g - mean_{h != g} R_h
    loss = - mean_g A_g * ( sum_t log pi(x_t) + log pi(answer) )

where for soft / fuzzy tokens the action is the noisy embedding itself, a Gaussian around
``mu_t`` (``log pi(x_t) = -|x_t - mu_t|^2 / (2 sigma^2) + const``; the gradient reaches the logits
through ``mu_t``, never through the sampled ``x_t``), and for hard tokens ``log pi(x_t) = log p_t(s_t)``.

Decoding (:meth:`SoftTokens.predict`) is independent of how the policy was trained: ``hard``
(greedy, or sampled with ``sample=True``) or ``soft`` (``x_t = mu_t``, no noise; the answer is the
argmax or, sampled, a draw). ``pass@k`` (:func:`pass_at_k`) is the unbiased estimator over
``n >= k`` sampled answers per question.
"""

from __future__ import annotations

import math

import torch

from seqlab.reason.base import Prediction, Reasoner, check_batch, tokens
from seqlab.reason.coconut import _int
from seqlab.registry import Paper, register
from seqlab.tasks.reasoning_base import EOT

SOFT_TOKENS = Paper("Soft Tokens, Hard Truths", "2509.19170")
KINDS = ("hard", "soft", "fuzzy")
FUZZY_TAU = 1e-4


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased ``pass@k`` from ``n`` samples of which ``c`` are correct: ``1 - C(n-c, k) / C(n, k)``."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def leave_one_out(rewards: torch.Tensor) -> torch.Tensor:
    """Advantages ``R_g - mean_{h != g} R_h`` per row of ``rewards`` (questions, G >= 2)."""
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise ValueError(
            f"leave-one-out needs rewards of shape (questions, G >= 2), got {tuple(rewards.shape)}"
        )
    g = rewards.shape[1]
    return rewards - (rewards.sum(1, keepdim=True) - rewards) / (g - 1)


@register(
    "reasoner",
    "soft_tokens",
    implements=SOFT_TOKENS,
    used_by=[SOFT_TOKENS.title],
    description="hard / soft / fuzzy CoT tokens (mixtures of embeddings + noise) trained with REINFORCE",
)
class SoftTokens(Reasoner):
    """A CoT policy trained with RL on ``kind`` tokens (see the module docstring)."""

    def __init__(
        self, model, kind: str = "soft", tau: float = 0.5, sigma: float = 0.3, group: int = 8, n_steps=None
    ):
        super().__init__(model)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        for name, v in (("tau", tau), ("sigma", sigma)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"{name} must be a number > 0, got {v!r}")
        _int("group", group, 2)
        if n_steps is not None:
            _int("n_steps", n_steps, 1)
        self.kind, self.group, self.n_steps = kind, group, n_steps
        self.tau = FUZZY_TAU if kind == "fuzzy" else float(tau)
        self.sigma = float(sigma)

    def table(self) -> torch.Tensor:
        return self.embed(torch.arange(int(self.model.vocab_size))[None])[0]

    def rollout(self, batch, kind: str, noise: bool, generator=None, sample_answer: bool = True):
        """One pass of ``n`` CoT tokens and an answer per row; returns (answer, log-prob (B,), steps)."""
        m = check_batch(batch) if self.n_steps is None else self.n_steps
        E = self.table()
        embeds = self.prefix(batch)
        logp = embeds.new_zeros(embeds.shape[0])
        steps = []
        for _ in range(m):
            logits = self.run(embeds).logits[:, -1].float()
            if kind == "hard":
                lp = torch.log_softmax(logits / self.tau, -1)
                tok = torch.multinomial(lp.exp(), 1, generator=generator)[:, 0] if noise else lp.argmax(-1)
                logp = logp + lp.gather(1, tok[:, None])[:, 0]
                x = E[tok]
                steps.append(tok)
            else:
                tau = FUZZY_TAU if kind == "fuzzy" else self.tau
                mu = torch.softmax(logits / tau, -1) @ E.float()
                if noise:
                    eps = torch.randn(mu.shape, generator=generator, device=mu.device)
                    x = (mu + self.sigma * eps).detach()
                    logp = logp - ((x - mu) ** 2).sum(-1) / (2 * self.sigma**2)
                else:
                    x = mu
                steps.append(logits.argmax(-1))
            embeds = torch.cat([embeds, x[:, None].to(embeds.dtype)], 1)
        n = embeds.shape[0]
        embeds = torch.cat([embeds, self.embed(tokens(n, EOT, batch["answer"]))], 1)
        lp = torch.log_softmax(self.run(embeds).logits[:, -1].float(), -1)
        if sample_answer:
            answer = torch.multinomial(lp.exp(), 1, generator=generator)[:, 0]
        else:
            answer = lp.argmax(-1)
        logp = logp + lp.gather(1, answer[:, None])[:, 0]
        return answer, logp, torch.stack(steps, 1) if steps else batch["answer"][:, None][:, :0]

    def loss(self, batch, stage=None):
        """REINFORCE with a leave-one-out baseline over ``group`` rollouts per question."""
        check_batch(batch)
        g = self.group
        rep = {k: v.repeat_interleave(g, 0) for k, v in batch.items() if isinstance(v, torch.Tensor)}
        answer, logp, _ = self.rollout(rep, self.kind, noise=True)
        reward = (answer == rep["answer"]).float().view(-1, g)
        adv = leave_one_out(reward).view(-1)
        self.last_reward = float(reward.mean())
        return -(adv * logp).mean()

    @torch.no_grad()
    def predict(self, batch, decode: str = "hard", sample: bool = False, generator=None) -> Prediction:
        """``decode``: ``hard`` or ``soft`` tokens; ``sample``: draw tokens / the answer, else argmax."""
        if decode not in ("hard", "soft"):
            raise ValueError(f"decode must be 'hard' or 'soft', got {decode!r}")
        hard = decode == "hard"
        answer, _, steps = self.rollout(
            batch, decode, noise=sample and hard, generator=generator, sample_answer=sample
        )
        n, m = answer.shape[0], steps.shape[1]
        used = torch.full((n,), m + 2 if hard else 1)
        return Prediction(answer, used, thoughts=0 if hard else m, steps=steps if hard else None)


@torch.no_grad()
def pass_rates(reasoner: SoftTokens, batch, k: int, decode: str = "hard", seed: int = 0) -> dict:
    """Mean ``pass@1`` (greedy) and ``pass@k`` (``k`` sampled rollouts per question) on ``batch``."""
    _int("k", k, 1)
    g = torch.Generator().manual_seed(seed)
    greedy = reasoner.predict(batch, decode=decode).answer == batch["answer"]
    rep = {kk: v.repeat_interleave(k, 0) for kk, v in batch.items() if isinstance(v, torch.Tensor)}
    drawn = reasoner.predict(rep, decode=decode, sample=True, generator=g).answer
    right = (drawn == rep["answer"]).view(-1, k)
    c = right.sum(1).tolist()
    return {
        "pass1": float(greedy.float().mean()),
        "pass1_sampled": float(right.float().mean()),
        f"pass{k}": sum(pass_at_k(k, ci, k) for ci in c) / len(c),
        "distinct_answers": sum(len(set(r)) for r in drawn.view(-1, k).tolist()) / len(c),
    }
