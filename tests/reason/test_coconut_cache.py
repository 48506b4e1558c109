"""Coconut's key-value cache: incremental thoughts equal the full re-runs (thoughts, logits, loss, grads)."""

import pytest
import torch

from seqlab.reason.base import reasoning_model
from seqlab.reason.coconut import Coconut, embeds_with_state, supports_cache
from seqlab.registry import create


def _task_batch(depth=3, n=3, seed=1):
    task = create("task", "prosqa", depth=depth)
    return task, task.sample(n, seed=seed)


def _pair(task, steps, c, mixer="attention", seed=0):
    torch.manual_seed(seed)
    m = reasoning_model(task.vocab_size, d_model=32, n_layers=2, n_heads=2, mixer=mixer).eval()
    kw = {"cot_steps": steps, "thoughts_per_step": c}
    return Coconut(m, **kw), Coconut(m, kv_cache=True, **kw)


@pytest.mark.parametrize("c", [1, 3])
def test_cached_thoughts_and_answer_logits_equal_uncached(c):
    task, b = _task_batch()
    plain, cached = _pair(task, 3, c)
    prefix = plain.prefix(b)
    n = 3 * c  # 3 or 9 thoughts after a prefix whose length is not a multiple of either
    # 35 prefix positions, then 3 or 9 thoughts: no length is a multiple of GLA's chunk (16) or of
    # attention's query block (256), so chunk boundaries fall mid-sequence or not at all
    assert prefix.shape[1] == 35 and (prefix.shape[1] + n) % 16 != 0
    with torch.no_grad():
        _, th = plain.thoughts(prefix, n)
        th_c, state, last = cached.cached_thoughts(prefix, n)
        assert state["t"] == prefix.shape[1] + n
        assert torch.allclose(th, th_c, atol=1e-5)
        full = plain.model.forward_embeds(torch.cat([prefix, th], 1)).logits[:, -1]
        assert torch.allclose(last, full, atol=1e-5)
        for stage in range(4):
            a, bb = plain.suffix_logits(b, stage), cached.suffix_logits(b, stage)
            assert a.shape == bb.shape and torch.allclose(a, bb, atol=1e-5)
        p, q = plain.predict(b), cached.predict(b)
        assert torch.equal(p.steps, q.steps) and torch.equal(p.answer, q.answer)
        p, q = plain.predict(b, stage=1), cached.predict(b, stage=1)
        assert torch.equal(p.steps, q.steps)


def test_cached_loss_and_gradients_equal_uncached():
    task, b = _task_batch()
    plain, cached = _pair(task, 3, 1)
    for stage in (0, 2, 3):
        plain.model.zero_grad()
        lp = plain.loss(b, stage)
        lp.backward()
        g = [p.grad.clone() for p in plain.model.parameters()]
        plain.model.zero_grad()
        lc = cached.loss(b, stage)
        lc.backward()
        assert float(lc.detach()) == pytest.approx(float(lp.detach()), rel=1e-5)
        for x, p in zip(g, cached.model.parameters(), strict=True):
            assert torch.allclose(x, p.grad, atol=1e-5)


def test_recurrent_mixer_state_is_a_cache_too():
    task, b = _task_batch()
    plain, cached = _pair(task, 3, 3, mixer="gla")
    with torch.no_grad():  # 35 + 9 = 44 positions: chunks of 16 end mid-prefix and mid-thoughts
        _, th = plain.thoughts(plain.prefix(b), 9)
        th_c, _, _ = cached.cached_thoughts(cached.prefix(b), 9)
        assert torch.allclose(th, th_c, atol=1e-4)
        assert torch.allclose(plain.suffix_logits(b, 2), cached.suffix_logits(b, 2), atol=1e-4)


def test_chunked_embeds_equal_one_pass():
    task, b = _task_batch()
    plain, _ = _pair(task, 3, 1)
    x = torch.randn(2, 11, 32)
    with torch.no_grad():
        ref = plain.model.forward_embeds(x)
        h1, l1, s = embeds_with_state(plain.model, x[:, :4])
        h2, l2, _ = embeds_with_state(plain.model, x[:, 4:], s)
    assert torch.allclose(torch.cat([h1, h2], 1), ref.hidden_states[-1], atol=1e-5)
    assert torch.allclose(torch.cat([l1, l2], 1), ref.logits, atol=1e-5)


def test_cache_bad_input():
    task, _ = _task_batch()
    plain, _ = _pair(task, 3, 1)

    class Embeds(torch.nn.Module):  # forward_embeds without a chunked state
        d_model = 8

        def forward_embeds(self, e):
            return e

        def input_embeddings(self, ids):
            return ids

    assert supports_cache(plain.model) and not supports_cache(Embeds())
    with pytest.raises(ValueError, match="chunked mode"):
        Coconut(Embeds(), cot_steps=2, kv_cache=True)
    with pytest.raises(ValueError, match="kv_cache must be a bool"):
        Coconut(plain.model, cot_steps=2, kv_cache=1)
    with pytest.raises(ValueError, match="expects \\(batch, length, 32\\)"):
        embeds_with_state(plain.model, torch.zeros(2, 32))


def test_docs_coconut_cache_example_runs(capsys):
    """The Coconut-cache example of docs/reason.md runs and prints what the page says."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "reason.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    (block,) = [b for b in blocks if b.startswith("# Coconut with a key-value cache")]
    exec(compile(block, "docs/reason.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out == ["True", "['distill', 'student', 'teacher']", "[[0.866, -0.866, -0.866, 0.866]]"]


@pytest.mark.slow
def test_cached_thoughts_on_frozen_smollm2():
    """SmolLM2's transformers KV cache: 3 incremental thoughts equal the full re-runs."""
    import seqlab.lm

    smol = seqlab.lm.load("smollm2-135m")
    plain, cached = Coconut(smol, cot_steps=1), Coconut(smol, cot_steps=1, kv_cache=True)
    prefix = smol.input_embeddings(smol.encode(["Every wumpus is a yumpus. Is"]).ids)
    with torch.no_grad():
        _, th = plain.thoughts(prefix, 3)
        th_c, state, last = cached.cached_thoughts(prefix, 3)
        full = smol.forward_embeds(torch.cat([prefix, th], 1)).logits[:, -1]
    assert state["t"] == prefix.shape[1] + 3
    assert torch.allclose(th, th_c, atol=1e-3, rtol=1e-4)
    assert torch.allclose(last, full, atol=1e-3, rtol=1e-4)
    assert float((last.argmax(-1) == full.argmax(-1)).float().mean()) == 1.0
    with pytest.raises(ValueError, match="cache state"):
        embeds_with_state(smol, prefix, state={"t": 0})
