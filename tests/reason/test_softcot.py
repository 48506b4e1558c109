"""SoftCoT: soft thoughts are the assistant's placeholder states, only the projection trains, and the
backbone sees exactly ``question BOT W t + b``; a demo into the real SmolLM2 (slow)."""

import pytest
import torch
import torch.nn.functional as F

from seqlab.reason import DiscreteCoT, SoftCoT, fit, reasoning_model
from seqlab.reason.experiments_soft import softcot_cell
from seqlab.reason.softcot import Slotted, with_slots
from seqlab.registry import create, names
from seqlab.tasks.reasoning_base import BOT, EOT, SEP


@pytest.fixture(scope="module")
def arith():
    task = create("task", "arithmetic", n_ops=3, modulus=5)
    return task, task.sample(5, seed=0)


def pair(task):
    torch.manual_seed(0)
    backbone = reasoning_model(task.vocab_size, d_model=32, n_layers=2, n_heads=2).eval()
    assistant = reasoning_model(task.vocab_size, d_model=16, n_layers=1, n_heads=2).eval()
    return backbone, assistant


def q_bot(b):
    q = b["question"]
    return torch.cat([q, torch.full((q.shape[0], 1), BOT)], 1)


def test_registered():
    assert "softcot" in names("reasoner")


def test_thoughts_are_projected_placeholder_states(arith):
    task, b = arith
    backbone, assistant = pair(task)
    s = SoftCoT(backbone, assistant, n_thoughts=3)
    with torch.no_grad():
        s.proj.weight.normal_()
        q = b["question"]
        t = assistant.hidden_states(torch.cat([q, torch.full((q.shape[0], 3), SEP)], 1))[-1][:, -3:]
        assert torch.allclose(s.thought_embeddings(q), t @ s.proj.weight.T + s.proj.bias, atol=1e-5)


def test_untrained_softcot_is_the_backbone_reading_its_placeholders(arith):
    """W = 0, b = E[PH]: the inserted vectors are the slot's own embeddings, so the loss and the
    predictions equal DiscreteCoT's on the slotted question."""
    task, b = arith
    backbone, assistant = pair(task)
    s = SoftCoT(backbone, assistant, n_thoughts=2)
    slotted = with_slots(b, 2)
    assert torch.equal(slotted["question"][:, -2:], torch.full((5, 2), SEP))
    cot = DiscreteCoT(backbone)
    with torch.no_grad():
        assert torch.allclose(s.loss(b), cot.loss(slotted), atol=1e-5)
        got, want = s.predict(b), cot.predict(slotted, n_steps=3)
    assert torch.equal(got.answer, want.answer) and torch.equal(got.steps, want.steps)
    assert got.thoughts == 2 and got.tokens.tolist() == want.tokens.tolist()
    assert Slotted(task, 2).sample(3, seed=1)["question"].shape[1] == task.question_len + 2


def test_loss_is_the_backbone_cross_entropy_after_the_thoughts(arith):
    task, b = arith
    s = SoftCoT(*pair(task), n_thoughts=2)
    q = b["question"]
    with torch.no_grad():
        s.proj.weight.normal_(std=0.3)
        u = s.thought_embeddings(q)
        n = q.shape[0]
        seq_in = torch.cat([torch.full((n, 1), BOT), b["trace"], torch.full((n, 1), EOT)], 1)
        target = torch.cat([b["trace"], torch.full((n, 1), EOT), b["answer"][:, None]], 1)
        emb = s.model.input_embeddings
        logits = s.model.forward_embeds(torch.cat([emb(q), u, emb(seq_in)], 1)).logits[:, -5:]
        want = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
        assert torch.allclose(s.loss(b), want, atol=1e-5)


def test_only_the_projection_trains_and_the_backbone_is_unchanged(arith):
    task, _ = arith
    backbone, assistant = pair(task)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    s = SoftCoT(backbone, assistant, n_thoughts=2)
    assert [n for n, p in s.named_parameters() if p.requires_grad] == ["proj.weight", "proj.bias"]
    b0 = task.sample(64, seed=3)
    l0 = float(s.loss(b0).detach())
    fit(s, task, steps=15, batch_size=16, lr=1e-2)
    assert float(s.loss(b0).detach()) < l0
    assert s.proj.weight.abs().sum() > 0
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())


def test_errors(arith):
    task, b = arith
    backbone, _ = pair(task)
    with pytest.raises(ValueError, match="forward_embeds"):
        SoftCoT(backbone, torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="n_thoughts"):
        SoftCoT(*pair(task), n_thoughts=0)
    s = SoftCoT(*pair(task))
    with pytest.raises(ValueError, match="assistant_ids"):
        s.thought_embeddings(torch.zeros(3, dtype=torch.long))


def test_cell_reports_backbone_assistant_and_softcot():
    params = {
        "task": "arithmetic",
        "task_kw": {"n_ops": 2, "modulus": 3},
        "d_model": 16,
        "n_heads": 2,
        "backbone_steps": 4,
        "assistant_d": 8,
        "assistant_steps": 4,
        "proj_steps": 3,
        "n_thoughts": 2,
        "eval_n": 8,
    }
    out = softcot_cell(params, 0)
    assert set(out) == {"backbone", "assistant", "untrained", "softcot"}
    assert out["softcot"]["thoughts"] == 2 and out["backbone"]["thoughts"] == 0


@pytest.mark.slow
def test_softcot_into_the_frozen_smollm2():
    """minilm-l6 (d 384) assistant, projection into SmolLM2's 576-d input space, a few steps."""
    import seqlab.lm

    smol, mini = seqlab.lm.load("smollm2-135m"), seqlab.lm.load("minilm-l6")
    s = SoftCoT(smol, mini, n_thoughts=2, placeholder=int(mini.tokenizer.unk_token_id), slot=None)
    assert s.proj.weight.shape == (576, 384)
    a_ids = mini.encode(["two plus three is"]).ids
    p_ids = smol.encode(["Question: two plus three?"]).ids
    t_ids = smol.encode([" Answer: five"]).ids
    u = s.thought_embeddings(a_ids)
    assert u.shape == (1, 2, 576)
    assert torch.allclose(u[0, 0].float(), s.proj.bias)  # W starts at 0
    opt = torch.optim.AdamW(s.proj.parameters(), lr=1e-3)
    w = next(smol.model.parameters()).detach().clone()
    losses = []
    for _ in range(3):
        loss = s.lm_loss(a_ids, p_ids, t_ids[:, :-1], t_ids[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]
    assert torch.equal(next(smol.model.parameters()), w)
    assert not any(p.requires_grad for p in smol.model.parameters())
