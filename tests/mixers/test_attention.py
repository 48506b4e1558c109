"""Softmax attention: SDPA vs the explicit reference, window, KV cache, positions inside attention."""

import copy
import re
from pathlib import Path

import pytest
import torch

from seqlab.mixers import reset_state
from seqlab.mixers.attention import Attention, attention_reference, attention_sdpa
from seqlab.models import SequenceModel

D = 16
DOC = Path(__file__).resolve().parents[2] / "docs" / "mixers" / "attention.md"


def rand(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def make(**cfg):
    torch.manual_seed(0)
    return Attention(D, **cfg).eval()


def run_chunked(m, x, sizes=(5, 3, 11)):
    state, ys, t, i = None, [], 0, 0
    while t < x.shape[1]:
        y, state = m.forward_with_state(x[:, t : t + sizes[i % len(sizes)]], state)
        ys.append(y)
        t += y.shape[1]
        i += 1
    return torch.cat(ys, 1), state


def test_sdpa_function_matches_reference_with_mask_and_bias():
    q, k, v = rand(2, 3, 9, 4, seed=1), rand(2, 3, 13, 4, seed=2), rand(2, 3, 13, 4, seed=3)
    allowed = rand(2, 1, 9, 13, seed=4) > 0
    allowed[..., 0] = True  # every query keeps at least one key
    bias = rand(2, 3, 9, 13, seed=5)
    want = attention_reference(q, k, v, allowed, bias)
    torch.testing.assert_close(attention_sdpa(q, k, v, allowed, bias), want)
    causal = torch.ones(9, 9, dtype=torch.bool).tril()
    torch.testing.assert_close(attention_sdpa(q, k[:, :, :9], v[:, :, :9], is_causal=True),
                               attention_reference(q, k[:, :, :9], v[:, :, :9], causal))


@pytest.mark.parametrize(
    "cfg",
    [{}, {"pos": "none"}, {"pos": "alibi"}, {"window": 6}, {"pos": "alibi", "window": 4}, {"causal": False},
     {"causal": False, "pos": "alibi"}, {"n_heads": 2}],
)
def test_module_sdpa_path_equals_reference_path(cfg):
    fast = make(**cfg)
    slow = copy.deepcopy(fast)
    slow.sdpa = False
    x = rand(2, 37, D)
    torch.testing.assert_close(fast(x), slow(x), atol=1e-5, rtol=1e-5)
    if fast.causal:
        yc, _ = run_chunked(fast, x)
        torch.testing.assert_close(yc, slow(x), atol=1e-5, rtol=1e-5)


def test_float64_gradients_of_fast_and_reference_paths_agree():
    fast = make(pos="alibi", window=9).double()
    slow = copy.deepcopy(fast)
    slow.sdpa = False
    x1 = rand(2, 23, D, dtype=torch.float64).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    fast(x1).pow(2).sum().backward()
    slow(x2).pow(2).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    for (n, p1), p2 in zip(fast.named_parameters(), slow.parameters()):
        torch.testing.assert_close(p1.grad, p2.grad, msg=n)


@pytest.mark.parametrize("window", [1, 3, 8])
def test_window_sees_exactly_the_last_window_keys(window):
    m = make(pos="none", window=window)
    full = make(pos="none")  # same weights (same seed)
    x = rand(2, 29, D)
    with torch.no_grad():
        y = m(x)
        for t in (0, window - 1, window, 17, 28):
            lo = max(0, t - window + 1)
            torch.testing.assert_close(y[:, t], full(x[:, lo : t + 1])[:, -1])
        # a key just outside the window has no influence; one inside has
        x2 = x.clone()
        x2[:, 20 - window] += 1.0
        assert torch.allclose(m(x2)[:, 20], y[:, 20])
        x2[:, 20 - window + 1] += 1.0
        assert not torch.allclose(m(x2)[:, 20], y[:, 20])


def test_window_cache_is_bounded_and_full_cache_grows():
    win, full = make(window=5), make()
    x = rand(2, 50, D)
    with torch.no_grad():
        sw, sf = win.init_state(2), full.init_state(2)
        for t in range(50):
            _, sw = win.step(x[:, t], sw)
            _, sf = full.step(x[:, t], sf)
            assert sw["k"].shape[2] <= 5 and sw["v"].shape[2] <= 5
        assert sf["k"].shape[2] == 51  # one invalid slot + 50 tokens
        assert sw["seen"].tolist() == [50, 50] and sf["seen"].tolist() == [50, 50]
    assert win.state_size == "window * 2 * d_model" and full.state_size == "O(L * d_model)"


def test_rope_scores_depend_only_on_position_differences():
    m = make(pos="rope", n_heads=4)
    q, k = rand(2, 4, 7, 4, seed=1), rand(2, 4, 7, 4, seed=2)
    pos = torch.tensor([[0, 1, 2, 5, 9, 10, 30]] * 2)
    scores = m.rope.rotate(q, pos) @ m.rope.rotate(k, pos).transpose(-1, -2)
    shifted = m.rope.rotate(q, pos + 1000) @ m.rope.rotate(k, pos + 1000).transpose(-1, -2)
    torch.testing.assert_close(scores, shifted, atol=1e-4, rtol=1e-4)
    plain = q @ k.transpose(-1, -2)
    assert not torch.allclose(scores, plain, atol=1e-2)  # the rotation really acts


@pytest.mark.parametrize("pos", ["rope", "alibi", "urpe"])
def test_outputs_are_shift_invariant_but_see_gaps(pos):
    m = make(pos=pos)
    x = rand(2, 12, D)
    base = torch.arange(12).expand(2, -1)
    gaps = torch.tensor([[0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 30, 31]] * 2)
    with torch.no_grad():
        if pos == "urpe":
            m.urpe.coef.copy_(torch.rand(m.urpe.coef.shape, generator=torch.Generator().manual_seed(3)) + 0.5)
        y = m(x, base)
        torch.testing.assert_close(m(x, base + 77), y, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(m(x, gaps), y, atol=1e-3)


def test_alibi_bias_and_weights():
    m = make(pos="alibi", n_heads=4)
    torch.testing.assert_close(m.alibi.slopes, torch.tensor([2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8]))
    pos = torch.tensor([[0, 2, 3, 7]])
    bias = m.alibi.bias(pos, pos)
    assert bias.shape == (1, 4, 4, 4)
    torch.testing.assert_close(bias[0, 0, 3, 1], torch.tensor(-0.25 * 5))
    # zero queries: the weights are softmax of the (causal) bias alone
    q = torch.zeros(1, 4, 4, 2)
    v = torch.eye(4).expand(1, 4, 4, 4)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    w = attention_reference(q, q, v, causal, bias)
    want = bias.masked_fill(~causal, float("-inf")).softmax(-1)
    torch.testing.assert_close(w, want)
    assert (w[0, 0, 3, 2] > w[0, 0, 3, 1]) and (w[0, 0, 3, 1] > w[0, 0, 3, 0])  # nearer keys weigh more


def test_urpe_toeplitz_structure_and_probability_scaling():
    m = make(pos="urpe", max_len=64)
    with torch.no_grad():
        m.urpe.coef.copy_(torch.randn(m.urpe.coef.shape, generator=torch.Generator().manual_seed(0)))
    pos = torch.arange(9).expand(1, -1)
    allowed = torch.ones(9, 9, dtype=torch.bool).tril()[None, None]
    c = m.urpe.scale(pos, pos, allowed)
    assert c.shape == (1, m.n_heads, 9, 9)
    low = allowed[0, 0, 1:, 1:]
    torch.testing.assert_close(c[:, :, 1:, 1:][..., low], c[:, :, :-1, :-1][..., low])  # C_{i+1,j+1} = C_ij
    for i in range(9):
        for j in range(i + 1):
            torch.testing.assert_close(c[0, :, i, j], m.urpe.coef[:, i - j])
    # with all coefficients one URPE is plain attention (same weights as pos="none")
    ones, none = make(pos="urpe"), make(pos="none")
    x = rand(2, 15, D)
    torch.testing.assert_close(ones(x), none(x))
    # bidirectional URPE uses c_{-(L-1)} .. c_{L-1}
    bi = Attention(D, causal=False, pos="urpe", max_len=10)
    assert bi.urpe.coef.shape == (bi.n_heads, 19)
    with torch.no_grad():
        bi.urpe.coef.copy_(torch.arange(19.0).expand(bi.n_heads, -1))
    cb = bi.urpe.scale(torch.arange(10)[None], torch.arange(10)[None])
    assert cb[0, 0, 0, 9].item() == 0.0 and cb[0, 0, 9, 0].item() == 18.0 and cb[0, 0, 4, 4].item() == 9.0


def test_urpe_refuses_distances_beyond_max_len():
    m = make(pos="urpe", max_len=8)
    with pytest.raises(ValueError, match=r"relative positions"):
        m(rand(1, 9, D))


def test_bidirectional_sees_the_future_and_has_no_recurrent_modes():
    m = make(causal=False)
    assert m.modes == ("parallel",)
    x = rand(1, 10, D)
    x2 = x.clone()
    x2[:, 9] += 1.0
    with torch.no_grad():
        assert not torch.allclose(m(x)[:, 0], m(x2)[:, 0])
    with pytest.raises(NotImplementedError):
        m.forward_with_state(x)


def test_reset_mid_sequence_matches_fresh_cache_in_chunked_mode():
    m = make(pos="alibi", window=6)
    x = rand(2, 20, D)
    with torch.no_grad():
        _, s = m.forward_with_state(x[:, :9])
        s = reset_state(s, torch.tensor([True, False]), m.init_state(2))
        y, _ = m.forward_with_state(x[:, 9:], s)
        torch.testing.assert_close(y[0], m(x[:1, 9:])[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(y[1], m(x[1:])[0, 9:], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "cfg, match",
    [({"n_heads": 3}, "n_heads"), ({"window": 0}, "window"), ({"window": 4, "causal": False}, "causal"),
     ({"pos": "sinusoidal"}, "pos")],
)
def test_bad_config_raises(cfg, match):
    with pytest.raises(ValueError, match=match):
        Attention(D, **cfg)


@pytest.mark.parametrize(
    "positions, match",
    [(torch.zeros(2, 5), "integer"), (torch.zeros(2, 4, dtype=torch.long), "shape"),
     (torch.tensor([[0, 1, 2, 1, 3]] * 2), "non-decreasing"), (torch.full((2, 5), -1), "non-negative")],
)
def test_bad_positions_raise(positions, match):
    with pytest.raises(ValueError, match=match):
        make()(rand(2, 5, D), positions)


def test_bad_state_raises():
    m = make()
    with pytest.raises(ValueError, match="state"):
        m.forward_with_state(rand(2, 3, D), {"k": torch.zeros(2)})


def test_randomized_positions_reach_rope_and_train_one_step():
    torch.manual_seed(0)
    model = SequenceModel(mixer="attention", d_model=D, n_layers=1, vocab_size=7, randomized_positions=64)
    tokens = torch.randint(0, 7, (4, 10), generator=torch.Generator().manual_seed(1))
    model.train()
    pos = model.make_positions(4, 10, "cpu", generator=torch.Generator().manual_seed(2))
    assert (pos[:, 1:] > pos[:, :-1]).all() and pos.max() < 64 and not torch.equal(pos[0], torch.arange(10))
    torch.manual_seed(5)
    out_a = model(tokens)
    torch.manual_seed(6)
    out_b = model(tokens)
    assert not torch.allclose(out_a, out_b)  # different sampled positions change the RoPE scores
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loss = torch.nn.functional.cross_entropy(model(tokens).flatten(0, 1), tokens.flatten())
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    model.eval()
    assert torch.equal(model.make_positions(4, 10, "cpu"), torch.arange(10).expand(4, 10))
    with torch.no_grad():
        torch.testing.assert_close(model(tokens), model(tokens, torch.arange(10).expand(4, 10)))


def test_docs_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs page must hold a python example"
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {})


@pytest.mark.parametrize("pos", ["none", "rope", "alibi", "urpe"])
@pytest.mark.parametrize("window", [1, 37, 200])
def test_blocked_window_matches_full_masked_reference_with_grad(pos, window):
    """Lengths past several query blocks (WINDOW_BLOCK = 128), not a multiple of it."""
    m = make(pos=pos, window=window, max_len=512).double()
    x = rand(2, 301, D, seed=7, dtype=torch.float64).requires_grad_()
    y = m(x)
    (g,) = torch.autograd.grad(y.square().sum(), x)
    pos_ids = torch.arange(301).expand(2, 301)
    q, k, v = m.project(x, pos_ids)
    rel = torch.arange(301)[:, None] - torch.arange(301)
    allowed = (rel >= 0) & (rel < window)
    bias = None if m.alibi is None else m.alibi.bias(pos_ids, pos_ids).double()
    scale = None if m.urpe is None else m.urpe.scale(pos_ids, pos_ids, allowed).double()
    want = m.out(attention_reference(q, k, v, allowed, bias, scale).transpose(1, 2).flatten(2))
    (g_ref,) = torch.autograd.grad(want.square().sum(), x)
    torch.testing.assert_close(y, want, atol=1e-10, rtol=1e-8)
    torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-8)
