import itertools
import math

import pytest
import torch

from seqlab.tokenize.orderings import (
    ORDERINGS,
    PatchOrder,
    PlackettLucePolicy,
    apply_order,
    compressibility,
    hilbert,
    inverse,
    snake,
    undo_order,
)


@pytest.mark.parametrize("name", list(ORDERINGS))
@pytest.mark.parametrize("hw", [(1, 1), (4, 4), (5, 3), (6, 7)])
def test_orderings_are_permutations_with_inverse(name, hw):
    perm = ORDERINGS[name](*hw)
    assert sorted(perm.tolist()) == list(range(hw[0] * hw[1]))
    assert torch.equal(perm[inverse(perm)], torch.arange(perm.numel()))
    x = torch.randn(2, perm.numel(), 3)
    order = PatchOrder(name, *hw)
    assert torch.equal(order.decode(order.encode(x)), x)
    assert torch.equal(order.encode(x)[:, 0], x[:, perm[0]])


def test_column_major_example_and_batched_perms():
    assert ORDERINGS["column-major"](2, 3).tolist() == [0, 3, 1, 4, 2, 5]
    assert snake(2, 3).tolist() == [0, 1, 2, 5, 4, 3]
    perms = torch.stack([torch.randperm(7) for _ in range(4)])
    x = torch.randn(4, 7, 2)
    assert torch.equal(undo_order(apply_order(x, perms), perms), x)


@pytest.mark.parametrize("fn,hw", [(hilbert, (8, 8)), (hilbert, (16, 16)), (snake, (5, 7))])
def test_space_filling_orders_step_to_neighbours(fn, hw):
    perm = fn(*hw)
    r, c = perm // hw[1], perm % hw[1]
    steps = (r[1:] - r[:-1]).abs() + (c[1:] - c[:-1]).abs()
    assert (steps == 1).all()


def test_compressibility_prefers_orders_along_the_structure():
    g = torch.Generator().manual_seed(0)
    blocks = torch.randint(256, (8, 4, 4), generator=g)  # 4x4-patch-constant 16x16 images
    tokens = blocks.repeat_interleave(4, 1).repeat_interleave(4, 2).reshape(8, 256)
    shuffled = compressibility(tokens, torch.randperm(256, generator=g))
    assert compressibility(tokens, hilbert(16, 16)) < compressibility(tokens, ORDERINGS["row-major"](16, 16))
    assert compressibility(tokens, ORDERINGS["row-major"](16, 16)) < 0.5 * shuffled


def test_plackett_luce_log_prob_fast_matches_reference_and_normalises():
    pl = PlackettLucePolicy(5, init=torch.randn(5, generator=torch.Generator().manual_seed(0)))
    perms = torch.tensor(list(itertools.permutations(range(5))))
    fast = pl.log_prob(perms)
    ref = torch.stack([pl.log_prob_reference(p) for p in perms])
    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(fast.exp().sum(), torch.tensor(1.0))
    # gradient of the fast path equals the reference gradient
    g_fast = torch.autograd.grad(fast[:7].sum(), pl.logits)[0]
    g_ref = torch.autograd.grad(ref[:7].sum(), pl.logits)[0]
    torch.testing.assert_close(g_fast, g_ref)


def test_gumbel_sampling_matches_plackett_luce_probabilities():
    pl = PlackettLucePolicy(3, init=torch.tensor([1.0, 0.0, -1.0]))
    g = torch.Generator().manual_seed(0)
    samples = pl.sample(20000, g)
    perms = list(itertools.permutations(range(3)))
    for p in perms:
        freq = (samples == torch.tensor(p)).all(-1).double().mean()
        prob = math.exp(float(pl.log_prob(torch.tensor([p])).detach()))
        assert abs(float(freq) - prob) < 0.015
    assert pl.mode().tolist() == [0, 1, 2]


def test_reinforce_learns_to_read_informative_patches_first():
    # 4x4 patch images; the target depends on 4 patches far from the start of row-major order.
    # The cheap model reads only the first 4 patches of the sequence (ridge regression on them).
    g = torch.Generator().manual_seed(0)
    n, informative = 256, torch.tensor([5, 10, 13, 15])
    patches = torch.randn(n, 16, generator=g)
    y = patches[:, informative].sum(-1) + 0.1 * torch.randn(n, generator=g)

    def model_loss(perm):
        feats = torch.cat([patches[:, perm[:4]], torch.ones(n, 1)], 1)
        w = torch.linalg.solve(feats.t() @ feats + 1e-3 * torch.eye(5), feats.t() @ y)
        return float((feats @ w - y).pow(2).mean())

    pl = PlackettLucePolicy(16, init=torch.linspace(1, -1, 16))  # start near row-major
    opt = torch.optim.Adam(pl.parameters(), lr=0.1)

    def expected_loss():
        return sum(model_loss(p) for p in pl.sample(64, torch.Generator().manual_seed(1))) / 64

    start = expected_loss()
    for _ in range(150):
        pl.reinforce_step(model_loss, opt, num_samples=16, generator=g)
    end = expected_loss()
    assert end < 0.5 * start
    assert set(pl.mode()[:4].tolist()) == set(informative.tolist())
    assert model_loss(pl.mode()) < 0.05


def test_bad_input_fails_clearly():
    with pytest.raises(ValueError, match="unknown ordering"):
        PatchOrder("zigzag", 4, 4)
    with pytest.raises(ValueError, match="positive ints"):
        ORDERINGS["hilbert"](0, 4)
    with pytest.raises(ValueError, match=r"\(batch, 16"):
        apply_order(torch.randn(2, 15), torch.arange(16))
    with pytest.raises(ValueError, match="init logits"):
        PlackettLucePolicy(4, init=torch.zeros(3))
