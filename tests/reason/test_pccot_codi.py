"""PCCoT's CODI-style self-distillation objective against a hand-written computation."""

import pytest
import torch

from seqlab.reason.base import reasoning_model
from seqlab.reason.pccot import PCCoT
from seqlab.reason.train import fit
from seqlab.registry import create
from seqlab.tasks.reasoning_base import BOT, EOT


@pytest.fixture(scope="module")
def arith():
    task = create("task", "arithmetic", n_ops=3)
    return task, task.sample(5, seed=3)


def _model(task, seed=0):
    torch.manual_seed(seed)
    return reasoning_model(task.vocab_size, d_model=32, n_layers=2, n_heads=2)


def _hand(model, r, batch, distance, normalise):
    """CODI's loss written out with explicit sequences and per-layer loops."""
    q, trace, ans = batch["question"], batch["trace"], batch["answer"]
    b, m = q.shape[0], trace.shape[1]
    bot, eot = torch.full((b, 1), BOT), torch.full((b, 1), EOT)
    E = model.input_embeddings
    # the student: n Jacobi thoughts, recomputed here by the plain definition
    pre = E(torch.cat([q, bot], 1))
    z = r.z_init.expand(b, r.n, -1)
    for _ in range(r.T):
        z = model.forward_embeds(torch.cat([pre, z], 1)).hidden_states[-1][:, pre.shape[1] - 1 :][:, : r.n]
    s = model.forward_embeds(torch.cat([pre, z, E(eot)], 1))
    t = model.forward_embeds(E(torch.cat([q, bot, trace, eot], 1)))
    ce_s = -torch.log_softmax(s.logits[:, -1], -1)[torch.arange(b), ans].mean()
    targets = torch.cat([trace, eot, ans[:, None]], 1)  # predicted from BOT, s_1 .. s_m, EOT
    lp = torch.log_softmax(t.logits[:, q.shape[1] : q.shape[1] + m + 2], -1)
    ce_t = -lp.gather(-1, targets[..., None]).mean()
    kd = 0.0
    L = len(s.hidden_states) - 1
    for layer in range(1, L + 1):
        ht = t.hidden_states[layer][:, -1].detach()
        hs = s.hidden_states[layer][:, -1]
        d = (hs - ht).abs().mean() if distance == "l1" else ((hs - ht) ** 2).mean()
        if normalise:
            d = d / (ht.std() + 1e-6)
        kd = kd + d / L
    return ce_s, ce_t, kd


@pytest.mark.parametrize("distance,normalise", [("l1", True), ("l2", False), ("l2", True)])
def test_codi_loss_equals_hand_computation(arith, distance, normalise):
    task, b = arith
    model = _model(task)
    r = PCCoT(
        model, 2, 2, objective="codi", codi_weights=(1.0, 0.5, 2.0), distance=distance, normalise=normalise
    )
    parts = r.codi_parts(b)
    ce_s, ce_t, kd = _hand(model, r, b, distance, normalise)
    assert float(parts["student"].detach()) == pytest.approx(float(ce_s.detach()), rel=1e-5)
    assert float(parts["teacher"].detach()) == pytest.approx(float(ce_t.detach()), rel=1e-5)
    assert float(parts["distill"].detach()) == pytest.approx(float(kd.detach()), rel=1e-5)
    loss = r.loss(b)
    want = ce_s + 0.5 * ce_t + 2.0 * kd
    assert float(loss.detach()) == pytest.approx(float(want.detach()), rel=1e-5)
    # gradients equal too: the teacher's states are a stop-gradient target in both
    g = torch.autograd.grad(loss, list(r.parameters()), allow_unused=True)
    h = torch.autograd.grad(want, list(r.parameters()), allow_unused=True)
    for x, y in zip(g, h, strict=True):
        assert (x is None and y is None) or torch.allclose(x, y, atol=1e-5)


def test_distillation_does_not_pull_the_teacher(arith):
    """With only the distillation term, the gradient equals that of a teacher run entirely without
    gradient: the teacher's states are a fixed target, only the student moves."""
    task, b = arith
    model = _model(task)
    # T = 1 < n = 2: the last thought still depends on z_init (with T = n it would not)
    r = PCCoT(model, 2, 1, objective="codi", codi_weights=(0.0, 0.0, 1.0))
    got = torch.autograd.grad(r.loss(b), list(r.parameters()), allow_unused=True)
    q, trace = b["question"], b["trace"]
    n = q.shape[0]
    with torch.no_grad():
        ids = torch.cat([q, torch.full((n, 1), BOT), trace, torch.full((n, 1), EOT)], 1)
        teacher = [h[:, -1] for h in model.forward_embeds(model.input_embeddings(ids)).hidden_states[1:]]
    prefix = r.prefix(b)
    eot = model.input_embeddings(torch.full((n, 1), EOT))
    student = model.forward_embeds(torch.cat([prefix, r.jacobi(prefix), eot], 1)).hidden_states[1:]
    kd = sum((s[:, -1] - t).abs().mean() / (t.std() + 1e-6) for s, t in zip(student, teacher, strict=True))
    want = torch.autograd.grad(kd / len(teacher), list(r.parameters()), allow_unused=True)
    for x, y, p in zip(got, want, r.parameters(), strict=True):  # zero-weighted terms give zeros
        x = torch.zeros_like(p) if x is None else x
        y = torch.zeros_like(p) if y is None else y
        assert torch.allclose(x, y, atol=1e-6)
    assert float(got[0].abs().sum()) > 0  # z_init (the first parameter) is pulled


def test_answer_objective_unchanged(arith):
    task, b = arith
    model = _model(task)
    plain, codi = PCCoT(model, 2, 2), PCCoT(model, 2, 2, objective="codi", codi_weights=(1, 0, 0))
    codi.z_init = plain.z_init
    assert float(codi.loss(b).detach()) == pytest.approx(float(plain.loss(b).detach()), rel=1e-5)


def test_fit_with_codi_lowers_the_loss(arith):
    task, b = arith
    r = PCCoT(_model(task), 2, 2, objective="codi")
    with torch.no_grad():
        before = float(r.loss(b))
    out = fit(r, task, steps=30, batch_size=16, lr=3e-3)
    with torch.no_grad():
        after = float(r.loss(b))
    assert after < before and out["loss"] == out["loss"]


def test_codi_bad_input(arith):
    task, _ = arith
    m = _model(task)
    with pytest.raises(ValueError, match="objective must be one of"):
        PCCoT(m, 2, 2, objective="kd")
    with pytest.raises(ValueError, match="distance must be one of"):
        PCCoT(m, 2, 2, distance="cos")
    with pytest.raises(ValueError, match="three non-negative numbers"):
        PCCoT(m, 2, 2, codi_weights=(1, -1, 1))
    with pytest.raises(ValueError, match="three non-negative numbers"):
        PCCoT(m, 2, 2, codi_weights=(1, 1))
