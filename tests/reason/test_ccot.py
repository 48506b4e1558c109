"""CCoT: the compression arithmetic, the teacher-forced loss against a plain loop, generation, training."""

import math

import pytest
import torch

from seqlab.reason import CCoT, DiscreteCoT, fit, reasoning_model
from seqlab.reason.ccot import kept_steps, n_contemplation
from seqlab.reason.experiments_soft import ccot_cell
from seqlab.registry import create, names
from seqlab.tasks.reasoning_base import BOT


@pytest.fixture(scope="module")
def arith():
    task = create("task", "arithmetic", n_ops=4, modulus=5)
    return task, task.sample(6, seed=0)


def teacher(task, seed=0):
    torch.manual_seed(seed)
    return reasoning_model(task.vocab_size, d_model=32, n_layers=2, n_heads=2).eval()


def test_registered():
    assert "ccot" in names("reasoner")


@pytest.mark.parametrize("r,n", [(0.1, 4), (0.25, 4), (0.5, 4), (1.0, 4), (0.3, 10), (0.25, 8)])
def test_m_is_ceil_r_n_and_the_kept_steps_are_evenly_spaced(r, n):
    m = n_contemplation(r, n)
    assert m == max(1, math.ceil(r * n - 1e-9))
    kept = kept_steps(n, m)
    assert len(kept) == m and kept[-1] == n and kept == sorted(set(kept))
    assert all(1 <= i <= n for i in kept)
    assert kept_steps(n, n) == list(range(1, n + 1))


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, True, "0.5"])
def test_bad_ratio_is_refused(bad):
    with pytest.raises(ValueError, match="compression ratio"):
        n_contemplation(bad, 4)


def test_teacher_frozen_and_modules_start_as_copies(arith):
    task, _ = arith
    m = teacher(task)
    c = CCoT(m, cot_steps=4, ratio=0.5)
    assert c.m == 2 and c.kept == [2, 4]
    assert not any(p.requires_grad for p in c.model.parameters())
    assert all(p.requires_grad for p in m.parameters())  # the caller's model is left trainable
    assert all(p.requires_grad for p in c.ccot.parameters())
    for a, b in zip(c.model.parameters(), c.decoder.parameters()):
        assert torch.equal(a, b) and a is not b


def test_ccot_loss_matches_a_direct_loop(arith):
    task, b = arith
    c = CCoT(teacher(task), cot_steps=4, ratio=0.5)
    with torch.no_grad():
        for p in c.ccot.parameters():  # make the student differ from the teacher
            p.add_(0.05 * torch.randn_like(p))
        got = c.ccot_loss(b)
        q, tr = b["question"], b["trace"]
        bot = torch.full((q.shape[0], 1), BOT)
        gold = c.model.forward_embeds(c.model.input_embeddings(torch.cat([q, bot, tr], 1))).hidden_states
        P = q.shape[1]  # BOT's column
        feeds = [gold[-1][:, P], gold[-1][:, P + 2]]  # BOT, then step 2 (kept steps 2 and 4)
        x = c.ccot.input_embeddings(torch.cat([q, bot], 1))
        x = torch.cat([x] + [f[:, None] for f in feeds], 1)
        hs = c.ccot.forward_embeds(x).hidden_states
        terms = []
        for layer in range(1, len(gold)):
            var = gold[layer][:, : P + 5].var()
            err = 0.0
            for k, step in enumerate([2, 4]):
                diff = hs[layer][:, P + 1 + k] - gold[layer][:, P + step]
                err = err + (diff**2).mean()
            terms.append(err / 2 / var)
        assert torch.allclose(got, torch.stack(terms).mean(), rtol=1e-4)


def test_contemplation_tokens_are_the_fed_back_last_hidden_states(arith):
    """Generation: token k+1's input is the CCoT module's last hidden state at token k."""
    task, b = arith
    c = CCoT(teacher(task), cot_steps=4, ratio=1.0)
    with torch.no_grad():
        z = c.contemplate(b)
        q = b["question"]
        x = c.ccot.input_embeddings(torch.cat([q, torch.full((q.shape[0], 1), BOT)], 1))
        for k in range(4):
            h = c.ccot.forward_embeds(x).hidden_states[-1][:, -1]
            assert torch.allclose(z[:, k], h, atol=1e-5)
            x = torch.cat([x, h[:, None]], 1)
    assert c.ccot_loss(b) > 0


def test_stages_train_only_their_module(arith):
    task, b = arith
    c = CCoT(teacher(task), cot_steps=4, ratio=0.25)
    c.ccot_loss(b).backward()
    assert all(p.grad is None for p in c.decoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in c.ccot.parameters())
    c.zero_grad(set_to_none=True)
    c.decode_loss(b).backward()
    assert all(p.grad is None for p in c.ccot.parameters())
    assert all(p.grad is None for p in c.model.parameters())
    pred = c.predict(b)
    assert pred.thoughts == 1 and pred.answer.shape == b["answer"].shape


def test_errors(arith):
    task, b = arith
    with pytest.raises(ValueError, match="CoT steps"):
        CCoT(teacher(task), cot_steps=3, ratio=0.5).predict(b)
    with pytest.raises(ValueError, match="stages"):
        CCoT(teacher(task), cot_steps=4, ratio=0.5).loss(b, stage=2)


def test_fit_lowers_the_contemplation_loss():
    task = create("task", "arithmetic", n_ops=2, modulus=3)
    torch.manual_seed(0)
    cot = DiscreteCoT(reasoning_model(task.vocab_size, d_model=32, n_layers=2, n_heads=2))
    fit(cot, task, steps=40, lr=3e-3)
    c = CCoT(cot.model, cot_steps=2, ratio=0.5)
    b = task.sample(64, seed=5)
    before = float(c.ccot_loss(b).detach())
    fit(c, task, steps=60, stage_steps=50, lr=3e-3)
    assert float(c.ccot_loss(b).detach()) < before


def test_cell_reports_the_control_and_every_ratio():
    params = {
        "task": "arithmetic",
        "task_kw": {"n_ops": 2, "modulus": 3},
        "ratios": [0.5, 1.0],
        "d_model": 16,
        "n_heads": 2,
        "teacher_steps": 5,
        "ccot_steps": 3,
        "decode_steps": 2,
        "eval_n": 8,
    }
    out = ccot_cell(params, 0)
    assert set(out["ccot"]) == {"0.5", "1.0"}
    assert out["ccot"]["0.5"]["thoughts"] == 1 and out["ccot"]["1.0"]["thoughts"] == 2
    assert 0 <= out["cot"]["train_accuracy"] <= 1
