"""CCoT: the compression arithmetic, the teacher-forced loss against a plain loop, generation, training;
the learned options (occlusion-importance scorer, END predictor) against plain loops."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqlab.reason import CCoT, DiscreteCoT, fit, reasoning_model
from seqlab.reason.ccot import kept_steps, n_contemplation
from seqlab.reason.experiments_soft import ccot_cell
from seqlab.registry import create, names
from seqlab.tasks.reasoning_base import BOT, EOT, PAD


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


# -- learned options: scorer='learned', end='learned' --------------------------------------------


def test_defaults_are_unchanged(arith):
    task, b = arith
    c = CCoT(teacher(task), cot_steps=4, ratio=0.5)
    assert c.scorer is None and c.end_head is None
    assert c.kept_positions(b).tolist() == [[2, 4]] * 6
    with torch.no_grad():
        assert torch.allclose(c.stage0_loss(b), c.ccot_loss(b))


def test_occlusion_importance_matches_a_direct_loop(arith):
    task, b = arith
    c = CCoT(teacher(task), cot_steps=4, ratio=0.5, scorer="learned")
    got = c.occlusion_importance(b)
    q, tr, ans = b["question"], b["trace"], b["answer"]
    with torch.no_grad():
        for i in range(q.shape[0]):

            def ce(steps, i=i):
                ids = torch.tensor([q[i].tolist() + [BOT] + steps + [EOT]])
                logits = c.model.forward_embeds(c.model.input_embeddings(ids)).logits[0, -1]
                return float(F.cross_entropy(logits[None], ans[i : i + 1]))

            steps = tr[i, :4].tolist()
            for j in range(4):
                hidden = steps[:j] + [PAD] + steps[j + 1 :]
                assert got[i, j].item() == pytest.approx(ce(hidden) - ce(steps), abs=1e-4)


def test_learned_scorer_keeps_each_rows_top_m_steps_in_order(arith):
    task, b = arith
    c = CCoT(teacher(task), cot_steps=4, ratio=0.5, scorer="learned")
    with torch.no_grad():
        c.scorer.weight.normal_()
        s = c.step_scores(b)
        gold = c.model.forward_embeds(
            c.model.input_embeddings(torch.cat([b["question"], torch.full((6, 1), BOT), b["trace"]], 1))
        ).hidden_states[-1]
        P = b["question"].shape[1]
        direct = gold[:, P + 1 : P + 5] @ c.scorer.weight[0] + c.scorer.bias
        assert torch.allclose(s, direct, atol=1e-5)
        kept = c.kept_positions(b)
        for i in range(6):
            order = sorted(range(4), key=lambda j: -float(s[i, j]))[:2]
            assert kept[i].tolist() == sorted(j + 1 for j in order)
        imp = c.occlusion_importance(b)
        assert float(c.scorer_loss(b)) == pytest.approx(float(((s - imp) ** 2).mean()), rel=1e-5)


def test_ccot_loss_uses_each_rows_kept_steps(arith):
    """With per-row positions the loss equals the average of single-row losses at those positions."""
    task, b = arith
    c = CCoT(teacher(task), cot_steps=4, ratio=0.5, scorer="learned")
    with torch.no_grad():
        c.scorer.weight.normal_()
        for p in c.ccot.parameters():
            p.add_(0.05 * torch.randn_like(p))
        kept = c.kept_positions(b)
        assert len({tuple(r) for r in kept.tolist()}) > 1  # rows differ, or the test says nothing
        got = c.ccot_loss(b)
        q, tr = b["question"], b["trace"]
        P = q.shape[1]
        ids = torch.cat([q, torch.full((6, 1), BOT), tr], 1)
        gold = c.model.forward_embeds(c.model.input_embeddings(ids)).hidden_states
        terms = []
        for layer in range(1, len(gold)):
            var = gold[layer][:, : P + 5].var()
            err = 0.0
            for i in range(6):
                ks = kept[i].tolist()
                feeds = [gold[-1][i, P]] + [gold[-1][i, P + ks[0]]]
                x = c.ccot.input_embeddings(torch.cat([q[i : i + 1], torch.full((1, 1), BOT)], 1))
                x = torch.cat([x, torch.stack(feeds)[None]], 1)
                hs = c.ccot.forward_embeds(x).hidden_states
                for k, step in enumerate(ks):
                    err = err + ((hs[layer][0, P + 1 + k] - gold[layer][i, P + step]) ** 2).mean()
            terms.append(err / 12 / var)
        assert torch.allclose(got, torch.stack(terms).mean(), rtol=1e-4)


def test_end_predictor_loss_and_stopping_rule(arith):
    task, b = arith
    c = CCoT(teacher(task), cot_steps=4, ratio=0.5, end="learned")
    states = torch.randn(6, 2, 32)
    logit = c.end_head(states).squeeze(-1)
    want = (F.softplus(-logit[:, 1]).sum() + F.softplus(logit[:, 0]).sum()) / 12
    assert torch.allclose(c.end_loss(states), want, atol=1e-6)
    with torch.no_grad():
        z, lengths = c.contemplate_until_end(b)
        assert torch.allclose(z, c.contemplate(b, n=4))
        p = torch.sigmoid(c.end_head(z).squeeze(-1))
        for i in range(6):
            fire = [k + 1 for k in range(4) if p[i, k] > 0.5]
            assert int(lengths[i]) == (fire[0] if fire else 4)
        # bias forces a stop at once: every row uses one token, and predict decodes from z_1 only
        c.end_head.weight.zero_()
        c.end_head.bias.fill_(5.0)
        pred = c.predict(b)
        assert pred.thoughts == 1 and c.last_lengths.tolist() == [1] * 6
        assert torch.equal(pred.answer, c._answer_logits(b, c.contemplate(b, n=1)).argmax(-1))


def test_rows_of_different_lengths_are_decoded_from_their_own_tokens(arith):
    task, b = arith
    c = CCoT(teacher(task), cot_steps=4, ratio=0.5, end="learned")
    with torch.no_grad():
        z = c.contemplate(b, n=4)
        lengths = torch.tensor([1, 2, 4, 3, 1, 2])
        c.contemplate_until_end = lambda batch: (z, lengths)
        pred = c.predict(b)
        for i in range(6):
            k = int(lengths[i])
            one = {"question": b["question"][i : i + 1]}
            assert int(pred.answer[i]) == int(c._answer_logits(one, z[i : i + 1, :k]).argmax(-1))
        assert pred.thoughts == 4


def test_bad_options_and_missing_heads(arith):
    task, b = arith
    with pytest.raises(ValueError, match="scorer must be one of"):
        CCoT(teacher(task), 4, 0.5, scorer="attention")
    with pytest.raises(ValueError, match="end must be one of"):
        CCoT(teacher(task), 4, 0.5, end="never")
    c = CCoT(teacher(task), 4, 0.5)
    with pytest.raises(ValueError, match="scorer='learned'"):
        c.step_scores(b)
    with pytest.raises(ValueError, match="end='learned'"):
        c.contemplate_until_end(b)


def test_stage0_trains_scorer_and_end_head_and_they_learn():
    task = create("task", "arithmetic", n_ops=2, modulus=3)
    torch.manual_seed(0)
    cot = DiscreteCoT(reasoning_model(task.vocab_size, d_model=32, n_layers=2, n_heads=2))
    fit(cot, task, steps=40, lr=3e-3)
    c = CCoT(cot.model, cot_steps=2, ratio=0.5, scorer="learned", end="learned")
    b = task.sample(64, seed=5)
    with torch.no_grad():
        before = (float(c.scorer_loss(b)), float(c.end_loss(c.contemplate(b))))
    fit(c, task, steps=60, stage_steps=55, lr=3e-3)
    with torch.no_grad():
        after = (float(c.scorer_loss(b)), float(c.end_loss(c.contemplate(b))))
    assert after[0] < before[0] and after[1] < before[1]
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in c.model.parameters())


def test_docs_example_of_the_learned_options_runs(capsys):
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "reason.md"
    blocks = [b for b in re.findall(r"```python\n(.*?)```", doc.read_text(), re.S) if 'end="learned"' in b]
    assert len(blocks) == 1
    exec(compile(blocks[0], str(doc), "exec"), {})
    assert capsys.readouterr().out.splitlines() == ["(8, 2)", "True (8,)", "True"]
