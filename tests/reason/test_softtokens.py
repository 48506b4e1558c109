"""Soft Tokens, Hard Truths: pass@k, the leave-one-out baseline, the Gaussian log-probability of a
noisy soft token, hard decoding = discrete CoT, and REINFORCE moving the policy."""

import math
from itertools import combinations

import pytest
import torch

from seqlab.reason import DiscreteCoT, SoftTokens, fit, pass_at_k, reasoning_model
from seqlab.reason.experiments_soft import softtokens_cell
from seqlab.reason.softtokens import FUZZY_TAU, leave_one_out, pass_rates
from seqlab.registry import create, names
from seqlab.tasks.reasoning_base import EOT


@pytest.fixture(scope="module")
def arith():
    task = create("task", "arithmetic", n_ops=2, modulus=3)
    return task, task.sample(6, seed=0)


def policy(task, kind="soft", **kw):
    torch.manual_seed(0)
    return SoftTokens(reasoning_model(task.vocab_size, d_model=16, n_layers=1, n_heads=2), kind=kind, **kw)


def test_registered():
    assert "soft_tokens" in names("reasoner")


@pytest.mark.parametrize("n,c,k", [(5, 0, 1), (5, 2, 1), (5, 2, 3), (6, 1, 6), (4, 4, 2), (7, 3, 2)])
def test_pass_at_k_is_the_fraction_of_k_subsets_with_a_correct_sample(n, c, k):
    samples = [1] * c + [0] * (n - c)
    subsets = list(combinations(range(n), k))
    want = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
    assert math.isclose(pass_at_k(n, c, k), want)
    with pytest.raises(ValueError, match="pass@k"):
        pass_at_k(3, 4, 1)


def test_leave_one_out_baseline():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    adv = leave_one_out(r)
    for i in range(2):
        for g in range(4):
            others = [r[i, h] for h in range(4) if h != g]
            assert math.isclose(float(adv[i, g]), float(r[i, g] - sum(others) / 3), abs_tol=1e-6)
    with pytest.raises(ValueError, match="G >= 2"):
        leave_one_out(torch.ones(3, 1))


def test_soft_rollout_log_prob_is_the_gaussian_around_the_mixture(arith):
    """Re-run a noisy soft rollout with the same generator by hand: mixture, noise, Gaussian log-prob,
    plus the sampled answer's log-probability."""
    task, b = arith
    p = policy(task, tau=0.7, sigma=0.2)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    with torch.no_grad():
        answer, logp, _ = p.rollout(b, "soft", noise=True, generator=g1)
        E = p.table()
        x = p.prefix(b)
        want = torch.zeros(b["answer"].shape[0])
        for _ in range(2):
            mu = torch.softmax(p.model.forward_embeds(x).logits[:, -1] / 0.7, -1) @ E
            xt = mu + 0.2 * torch.randn(mu.shape, generator=g2)
            want -= ((xt - mu) ** 2).sum(-1) / (2 * 0.2**2)
            x = torch.cat([x, xt[:, None]], 1)
        x = torch.cat([x, p.model.input_embeddings(torch.full((6, 1), EOT))], 1)
        lp = torch.log_softmax(p.model.forward_embeds(x).logits[:, -1], -1)
        a = torch.multinomial(lp.exp(), 1, generator=g2)[:, 0]
        assert torch.equal(answer, a)
        assert torch.allclose(logp, want + lp.gather(1, a[:, None])[:, 0], atol=1e-4)


def test_fuzzy_mixture_is_the_argmax_embedding(arith):
    task, b = arith
    p = policy(task, kind="fuzzy", sigma=0.1)
    assert p.tau == FUZZY_TAU
    with torch.no_grad():
        logits = p.model.forward_embeds(p.prefix(b)).logits[:, -1]
        mu = torch.softmax(logits / FUZZY_TAU, -1) @ p.table()
        assert torch.allclose(mu, p.table()[logits.argmax(-1)], atol=1e-4)


def test_hard_greedy_decoding_is_discrete_cot(arith):
    task, b = arith
    p = policy(task, kind="soft")
    got = p.predict(b, decode="hard")
    want = DiscreteCoT(p.model).predict(b, n_steps=2)
    assert torch.equal(got.answer, want.answer) and torch.equal(got.steps, want.steps)
    soft = p.predict(b, decode="soft")
    assert soft.thoughts == 2 and int(soft.tokens[0]) == 1


def test_hard_rollout_log_prob_is_the_sum_of_token_log_probs(arith):
    task, b = arith
    p = policy(task, kind="hard", tau=1.0)
    with torch.no_grad():
        answer, logp, steps = p.rollout(b, "hard", noise=True, generator=torch.Generator().manual_seed(1))
        x = p.prefix(b)
        want = torch.zeros(6)
        for t in range(2):
            lp = torch.log_softmax(p.model.forward_embeds(x).logits[:, -1], -1)
            want += lp.gather(1, steps[:, t : t + 1])[:, 0]
            x = torch.cat([x, p.model.input_embeddings(steps[:, t : t + 1])], 1)
        x = torch.cat([x, p.model.input_embeddings(torch.full((6, 1), EOT))], 1)
        lp = torch.log_softmax(p.model.forward_embeds(x).logits[:, -1], -1)
        assert torch.allclose(logp, want + lp.gather(1, answer[:, None])[:, 0], atol=1e-5)


@pytest.mark.parametrize("kind", ["hard", "soft", "fuzzy"])
def test_reinforce_raises_the_reward(kind):
    """A one-answer reward: REINFORCE should move the policy toward the rewarded answers."""
    task = create("task", "arithmetic", n_ops=1, modulus=3)
    p = policy(task, kind=kind, group=4)
    b = task.sample(64, seed=9)
    before = float((p.predict(b).answer == b["answer"]).float().mean())
    fit(p, task, steps=40, batch_size=16, lr=1e-2)
    after = float((p.predict(b).answer == b["answer"]).float().mean())
    assert after > before + 0.1


def test_errors(arith):
    task, b = arith
    with pytest.raises(ValueError, match="kind"):
        policy(task, kind="warm")
    with pytest.raises(ValueError, match="sigma"):
        policy(task, sigma=0)
    with pytest.raises(ValueError, match="group"):
        policy(task, group=1)
    with pytest.raises(ValueError, match="decode"):
        policy(task).predict(b, decode="fuzzy")


def test_pass_rates_and_the_cell(arith):
    task, b = arith
    r = pass_rates(policy(task), b, k=3, decode="soft")
    assert 0 <= r["pass1_sampled"] <= r["pass3"] <= 1 and 1 <= r["distinct_answers"] <= 3
    params = {
        "task": "arithmetic",
        "task_kw": {"n_ops": 2, "modulus": 3},
        "d_model": 16,
        "n_heads": 2,
        "base_steps": 3,
        "rl_steps": 2,
        "rl_batch": 4,
        "group": 2,
        "eval_n": 8,
        "pass_k": 2,
    }
    out = softtokens_cell(params, 0)
    assert set(out) == {"base", "hard", "soft", "fuzzy"}
    assert {"hard", "soft", "train_pass1"} <= set(out["soft"]) and "pass2" in out["soft"]["hard"]
