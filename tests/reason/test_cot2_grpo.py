"""CoT2's GRPO stage: advantages and the clipped objective against direct formulas, log-probabilities
against the rollout's distributions, and a short run after supervised training."""

import math

import pytest
import torch

from seqlab.reason.base import reasoning_model
from seqlab.reason.cot2 import CoT2, fit_grpo, group_advantages, grpo_objective, repeat_batch
from seqlab.reason.train import fit
from seqlab.registry import create
from seqlab.tasks.reasoning_base import EOT


@pytest.fixture(scope="module")
def subset():
    task = create("task", "subset_sum", n_numbers=3, max_value=5)
    return task, task.sample(3, seed=2)


def _cot2(task, seed=0):
    torch.manual_seed(seed)
    return CoT2(reasoning_model(task.vocab_size, d_model=32, n_layers=2, n_heads=2).eval())


def test_group_advantages_direct_formula():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0], [0.2, 0.9, 0.4, 0.4, 0.0]])
    got = group_advantages(r, eps=1e-6)
    for i, row in enumerate(r.tolist()):
        mean = sum(row) / len(row)
        std = math.sqrt(sum((x - mean) ** 2 for x in row) / (len(row) - 1))
        for j, x in enumerate(row):
            assert float(got[i, j]) == pytest.approx((x - mean) / (std + 1e-6), rel=1e-5, abs=1e-7)
    assert torch.equal(got[1], torch.zeros(5))  # one reward for all: no signal


def test_clipped_objective_direct_formula():
    g = torch.Generator().manual_seed(0)
    lp = torch.randn(4, 3, generator=g) * 0.3 - 1
    old = lp + torch.randn(4, 3, generator=g) * 0.4  # ratios inside and outside [0.8, 1.2]
    ref = lp + torch.randn(4, 3, generator=g) * 0.2
    adv = torch.tensor([1.5, -0.5, 0.7, -1.2])
    rho = torch.exp(lp - old)
    assert bool(((rho > 1.2) | (rho < 0.8)).any()) and bool(((rho > 0.8) & (rho < 1.2)).any())
    for beta in (0.0, 0.3):
        want = 0.0
        for i in range(4):
            for t in range(3):
                rho = math.exp(float(lp[i, t] - old[i, t]))
                a = float(adv[i])
                term = min(rho * a, min(max(rho, 0.8), 1.2) * a)
                d = float(ref[i, t] - lp[i, t])
                term -= beta * (math.exp(d) - d - 1)
                want += term / 12
        got = grpo_objective(lp, old, adv, clip=0.2, logp_ref=ref, beta=beta)
        assert float(got) == pytest.approx(-want, rel=1e-5)
    # gradient: zero where the ratio is clipped on the advantage's side, a * rho / 12 elsewhere
    x = lp.clone().requires_grad_(True)
    grpo_objective(x, old, adv, clip=0.2).backward()
    for i in range(4):
        for t in range(3):
            rho, a = math.exp(float(lp[i, t] - old[i, t])), float(adv[i])
            clipped = (a > 0 and rho > 1.2) or (a < 0 and rho < 0.8)
            want = 0.0 if clipped else -a * rho / 12
            assert float(x.grad[i, t]) == pytest.approx(want, rel=1e-5, abs=1e-8)


def test_action_logprobs_match_the_rollout(subset):
    task, b = subset
    r = _cot2(task)
    gen = torch.Generator().manual_seed(1)
    g = r.sample_group(b, group=4, K=3, generator=gen)
    rep = g["batch"]
    assert rep["question"].shape[0] == 12 and torch.equal(rep["answer"][:4], b["answer"][0].repeat(4))
    assert g["draws"].shape == (12, 3, 3) and g["rewards"].shape == (3, 4)
    assert torch.equal(g["rewards"].reshape(-1), (g["answers"] == rep["answer"]).float())
    # replay the same draws step by step: log p_t(v_k) summed over the K draws
    with torch.no_grad():
        lp = r.action_logprobs(rep, g["draws"], g["answers"])
        E = r.table()
        embeds = r.prefix(rep)
        for t in range(3):
            logp = torch.log_softmax(r.run(embeds).logits[:, -1].float(), -1)
            want = logp.gather(-1, g["draws"][:, t]).sum(-1)
            assert torch.allclose(lp[:, t], want, atol=1e-5)
            embeds = torch.cat([embeds, E[g["draws"][:, t]].mean(1)[:, None]], 1)
        eot = r.embed(torch.full((12, 1), EOT))
        logp = torch.log_softmax(r.run(torch.cat([embeds, eot], 1)).logits[:, -1].float(), -1)
        assert torch.allclose(lp[:, -1], logp.gather(-1, g["answers"][:, None])[:, 0], atol=1e-5)


def test_grpo_after_supervised_training(subset):
    task, b = subset
    r = _cot2(task)
    fit(r, task, steps=40, batch_size=16, lr=3e-3)
    before = [p.detach().clone() for p in r.parameters()]
    out = fit_grpo(r, task, steps=3, group=4, K=2, batch_size=4, lr=1e-3, beta=0.05, inner_steps=2)
    assert len(out["rewards"]) == 3 and all(0.0 <= x <= 1.0 for x in out["rewards"])
    assert math.isfinite(out["loss"])
    assert any(not torch.equal(x, p) for x, p in zip(before, r.parameters(), strict=True))
    r.predict(b)  # the supervised interface still works


def test_grpo_bad_input(subset):
    task, b = subset
    r = _cot2(task)
    with pytest.raises(ValueError, match="G >= 2"):
        group_advantages(torch.ones(3, 1))
    with pytest.raises(ValueError, match="one advantage per rollout"):
        grpo_objective(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3))
    with pytest.raises(ValueError, match="clip > 0"):
        grpo_objective(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2), clip=0)
    with pytest.raises(ValueError, match="needs logp_ref"):
        grpo_objective(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2), beta=0.1)
    with pytest.raises(ValueError, match="group must be an int >= 2"):
        r.sample_group(b, group=1, K=2)
    with pytest.raises(ValueError, match="K must be an int >= 1"):
        fit_grpo(r, task, steps=1, K=0)
    with pytest.raises(ValueError, match="expects a CoT2"):
        fit_grpo(object(), task, steps=1)
    with pytest.raises(ValueError, match="draws"):
        r.action_logprobs(repeat_batch(b, 2), torch.zeros(6, 3, 2, dtype=torch.long), torch.zeros(5).long())
