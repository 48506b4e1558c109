"""Recurrent Memory Transformer: memory carries information, modes agree at any chunking, resets."""

import re
from pathlib import Path

import pytest
import torch

from seqlab.mixers import reset_state
from seqlab.mixers.rmt import RMT

D = 16
DOC = Path(__file__).resolve().parents[2] / "docs" / "mixers" / "rmt.md"


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def make(**cfg):
    torch.manual_seed(0)
    return RMT(D, **cfg).eval()


def reference(m, x):
    """Plain recomputation: each output from the whole local sequence up to it, no caches."""
    b, length, _ = x.shape
    mem, outs, s = m.memory.expand(b, -1, -1), [], m.segment
    for start in range(0, length, s):
        seg = x[:, start : start + s]
        for t in range(seg.shape[1]):
            outs.append(m.norm(m._stack(torch.cat([mem, seg[:, : t + 1]], 1))[:, -1]))
        if seg.shape[1] == s:
            mem = m.norm(m._stack(torch.cat([mem, seg, mem], 1))[:, -m.n_memory :])
    return torch.stack(outs, 1)


@pytest.mark.parametrize("cfg", [{"segment": 5, "n_memory": 2, "n_layers": 2}, {"segment": 4, "pos": "alibi"},
                                 {"segment": 3, "n_memory": 1, "pos": "urpe"}])
def test_parallel_chunked_step_and_reference_agree(cfg):
    m = make(**cfg)
    x = rand(2, 23, D)
    with torch.no_grad():
        y = m(x)
        torch.testing.assert_close(reference(m, x), y, atol=1e-5, rtol=1e-5)
        state, ys, t = None, [], 0
        for n in [2, 7, 1, 9, 4]:  # never aligned with the segments
            yc, state = m.forward_with_state(x[:, t : t + n], state)
            ys.append(yc)
            t += n
        torch.testing.assert_close(torch.cat(ys, 1), y, atol=1e-5, rtol=1e-5)


def test_memory_carries_information_across_segments():
    m = make(segment=6, n_memory=2)
    x = rand(2, 18, D)
    x2 = x.clone()
    x2[:, :6] += rand(2, 6, D, seed=1)  # change only segment 1
    with torch.no_grad():
        y, y2 = m(x), m(x2)
    assert not torch.allclose(y[:, 6:12], y2[:, 6:12], atol=1e-4)  # segment 2 sees it through memory
    assert not torch.allclose(y[:, 12:], y2[:, 12:], atol=1e-4)  # and segment 3, two hops later
    # the only path is the memory: with the same memory, segment 2's outputs do not depend on segment 1
    with torch.no_grad():
        _, s = m.forward_with_state(x[:, :6])
        _, s2 = m.forward_with_state(x2[:, :6])
        assert not torch.allclose(s["memory"], s2["memory"])
        s2["memory"], s2["kv"] = s["memory"], s["kv"]
        torch.testing.assert_close(m.forward_with_state(x2[:, 6:12], s2)[0], y[:, 6:12])


def test_memory_learns_to_carry_a_vector_to_the_next_segment():
    """Recall x[0] (segment 1) at the last token of segment 2: without memory the best MSE is 1."""
    torch.manual_seed(0)
    m, head = RMT(D, segment=4, n_memory=2), torch.nn.Linear(D, 4)
    opt = torch.optim.Adam([*m.parameters(), *head.parameters()], lr=1e-2)
    g = torch.Generator().manual_seed(1)
    for _ in range(250):
        x = torch.randn(64, 8, D, generator=g)
        loss = (head(m(x)[:, -1]) - x[:, 0, :4]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = rand(256, 8, D, seed=99)
    with torch.no_grad():
        mse = (head(m.eval()(x)[:, -1]) - x[:, 0, :4]).pow(2).mean().item()
    assert mse < 0.5, f"held-out recall MSE {mse:.3f} (predicting 0 gives ~1)"


def test_gradient_flows_back_through_memory():
    m = make(segment=4).train()
    x = rand(1, 12, D).requires_grad_()
    m(x)[:, 8:].pow(2).sum().backward()  # (a plain sum of LayerNorm outputs has zero gradient)
    assert x.grad[:, :4].abs().sum() > 0 and m.memory.grad.abs().sum() > 0


def test_state_is_bounded():
    m = make(segment=5, n_memory=3)
    x = rand(2, 40, D)
    with torch.no_grad():
        state = m.init_state(2)
        shapes = {k.shape for k, _ in state["kv"]}
        for t in range(40):
            _, state = m.step(x[:, t], state)
            assert {k.shape for k, _ in state["kv"]} == shapes and int(state["count"].max()) < 5
    assert shapes == {torch.Size([2, m.layers[0].attn.n_heads, 2 * 3 + 5, D // m.layers[0].attn.n_heads])}


def test_reset_desynchronizes_segments_and_stays_exact():
    m = make(segment=5, n_memory=2)
    x = rand(2, 30, D)
    with torch.no_grad():
        _, s = m.forward_with_state(x[:, :3])
        s = reset_state(s, torch.tensor([True, False]), m.init_state(2))
        y, _ = m.forward_with_state(x[:, 3:], s)  # sequence 0 restarts, sequence 1 is 3 tokens in
        torch.testing.assert_close(y[0], m(x[:1, 3:])[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(y[1], m(x[1:])[0, 3:], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cfg", [{"segment": 0}, {"n_memory": -1}, {"n_layers": 1.5}])
def test_bad_config_raises(cfg):
    with pytest.raises(ValueError, match="positive int"):
        RMT(D, **cfg)


def test_bad_state_raises():
    with pytest.raises(ValueError, match="memory"):
        make().forward_with_state(rand(2, 3, D), {"memory": torch.zeros(3, 4, D), "count": None, "kv": []})


def test_docs_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs page must hold a python example"
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {})
