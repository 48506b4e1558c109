"""Trajectory world, the sorting pretext (OPN) and the continuity pretext (CPNet), each against a direct
computation or a plain loop."""

import itertools
import math

import pytest
import torch

from seqlab import registry
from seqlab.embed.continuity import ContinuityNetwork, continuity_batch
from seqlab.embed.sorting import OrderPredictionNetwork, order_classes, permutation_class, sorting_batch
from seqlab.embed.trajectories import ConvSequenceEncoder, frozen_probe, make_world
from seqlab.probe.layers import probe_accuracy


def ramp(B, L, C=2):
    """x[b, t, 0] = t: the values name their own positions."""
    x = torch.zeros(B, L, C)
    x[:, :, 0] = torch.arange(L, dtype=torch.float32)
    x[:, :, 1] = torch.arange(B, dtype=torch.float32)[:, None]
    return x


# -- the trajectory world ----------------------------------------
def test_noiseless_trajectories_follow_their_class_rotation():
    world = make_world(n_classes=3, channels=6, n_osc=2, noise=0.0, seed=1)
    world.jitter = 0.0
    x, y = world.sample(5, 20, torch.Generator().manual_seed(0))
    z = x @ torch.linalg.pinv(world.mixing).T  # (5, 20, 4): [sin_1, sin_2, cos_1, cos_2]
    for b in range(5):
        w = world.freqs[y[b]]
        for j in range(2):
            s, c = z[b, :, j], z[b, :, 2 + j]
            # one step of a rotation by w_j: sin(a + w) = sin a cos w + cos a sin w
            pred = s[:-1] * math.cos(w[j]) + c[:-1] * math.sin(w[j])
            assert torch.allclose(pred, s[1:], atol=1e-4)


def test_world_sample_checks_its_input():
    world = make_world(seed=0)
    x, y = world.sample(4, 7, torch.Generator(), labels=[0, 1, 2, 3])
    assert x.shape == (4, 7, world.channels) and y.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="labels"):
        world.sample(3, 7, torch.Generator(), labels=[0, 1])
    with pytest.raises(ValueError, match="n_classes"):
        make_world(n_classes=1)


def test_encoder_is_local_and_pools_its_steps():
    torch.manual_seed(0)
    enc = ConvSequenceEncoder(3, hidden=8, d=4, kernel=5)
    x = torch.randn(2, 30, 3)
    h = enc.steps(x)
    assert h.shape == (2, 30, 8)
    assert torch.allclose(enc(x), enc.out(h.mean(1)))
    x2 = x.clone()
    x2[:, 25:] += 1.0  # two kernels of width 5 see 4 steps to each side: steps < 21 are unchanged
    assert torch.allclose(enc.steps(x2)[:, :21], h[:, :21]) and not torch.allclose(
        enc.steps(x2)[:, 21:], h[:, 21:]
    )
    with pytest.raises(ValueError, match=r"\(B, T, 3\)"):
        enc.steps(torch.randn(2, 30, 4))


def test_frozen_probe_is_the_ridge_probe_of_the_encoder_features():
    torch.manual_seed(0)
    enc = ConvSequenceEncoder(2, hidden=8, d=4)
    before = [p.clone() for p in enc.parameters()]
    x, y = torch.randn(30, 10, 2), torch.arange(30) % 3
    direct = probe_accuracy(enc(x).detach().double(), y, split=(torch.arange(12), torch.arange(12, 30)))
    assert frozen_probe(enc, x, y, 12) == direct
    assert all(torch.equal(a, b) for a, b in zip(before, enc.parameters()))
    with pytest.raises(ValueError, match="n_train"):
        frozen_probe(enc, x, y, 30)


# -- sorting ----------------------------------------
def test_order_classes_merge_each_permutation_with_its_reverse():
    classes = order_classes(4)
    assert len(classes) == math.factorial(4) // 2
    both = set(classes) | {p[::-1] for p in classes}
    assert both == set(itertools.permutations(range(4)))
    for p in itertools.permutations(range(4)):
        assert permutation_class(p, classes) == permutation_class(p[::-1], classes)
    with pytest.raises(ValueError, match="not a permutation"):
        permutation_class((0, 0, 1, 2), classes)


def test_sorting_batch_cuts_and_shuffles_windows_as_labelled():
    x = ramp(16, 40)
    wins, labels, perms = sorting_batch(x, 3, 5, 2, torch.Generator().manual_seed(0))
    assert wins.shape == (16, 3, 5, 2)
    classes = order_classes(3)
    for b in range(16):
        assert labels[b] == permutation_class(perms[b].tolist(), classes)
        starts = wins[b, :, 0, 0]  # each window's first position
        ordered = starts[torch.argsort(perms[b])]
        assert torch.equal(ordered[1:] - ordered[:-1], torch.full((2,), 7.0))  # window 5 + gap 2
        for i in range(3):
            assert torch.equal(wins[b, i, :, 0], starts[i] + torch.arange(5.0))
        assert torch.all(wins[b, :, :, 1] == b)
    with pytest.raises(ValueError, match="need 21 steps"):
        sorting_batch(ramp(2, 20), 3, 5, 3, torch.Generator())


def test_opn_logits_match_a_plain_loop_over_pairs():
    torch.manual_seed(0)
    opn = OrderPredictionNetwork(2, k=3, hidden=8, d=4, pair=5)
    wins = torch.randn(2, 3, 6, 2)
    with torch.no_grad():
        f = [opn.encoder(wins[:, i]) for i in range(3)]
        h = [torch.relu(opn.pair(torch.cat([f[i], f[j]], 1))) for i, j in [(0, 1), (0, 2), (1, 2)]]
        direct = opn.head(torch.cat(h, 1))
        assert torch.allclose(opn(wins), direct, atol=1e-6)
    assert opn.encode(torch.randn(5, 9, 2)).shape == (5, 4)


def test_opn_learns_to_sort_a_ramp():
    opn = OrderPredictionNetwork(2, k=3, hidden=8, d=8, pair=16)
    torch.manual_seed(0)

    def sample(n, g):
        return ramp(n, 30) * (0.5 + torch.rand(n, 1, 1, generator=g)) + torch.randn(n, 1, 1, generator=g)

    opn.fit(sample, steps=150, window=5, gap=1, lr=1e-2)
    assert opn.accuracy(sample(200, torch.Generator().manual_seed(9)), window=5, gap=1) > 0.9  # chance 1/3


# -- continuity ----------------------------------------
def test_continuity_batch_removes_the_section_after_the_cut():
    x = ramp(64, 50)
    clips, cut, where, sections = continuity_batch(x, 12, 4, 3, torch.Generator().manual_seed(0))
    assert clips.shape == (64, 12, 2) and sections.shape == (64, 4, 2)
    assert 0 < int(cut.sum()) < 64
    for b in range(64):
        pos = clips[b, :, 0]
        steps = pos[1:] - pos[:-1]
        if cut[b]:
            p = int(where[b])
            assert 3 <= p <= 9
            expect = torch.ones(11)
            expect[p - 1] = 5.0  # the jump skips the 4 missing steps
            assert torch.equal(steps, expect)
            assert torch.equal(sections[b, :, 0], pos[p - 1] + 1 + torch.arange(4.0))
        else:
            assert where[b] == -1 and torch.all(steps == 1)
    with pytest.raises(ValueError, match="margin"):
        continuity_batch(x, 12, 4, 6, torch.Generator())


def test_continuity_losses_match_their_formulas():
    torch.manual_seed(0)
    net = ContinuityNetwork(2, hidden=8, d=4, tau=0.5)
    clips, cut, where, sections = continuity_batch(
        torch.randn(10, 40, 2), 16, 4, 3, torch.Generator().manual_seed(1)
    )
    parts = net.losses(clips, cut, where, sections)
    with torch.no_grad():
        h = net.encoder.steps(clips)
        v = net.encoder.out(h.mean(1))
        just = -torch.log_softmax(net.justify(v), 1)[torch.arange(10), cut].mean()
        d = [b for b in range(10) if cut[b]]
        loc, miss = 0.0, 0.0
        for n, b in enumerate(d):
            scores = (h[b] @ net.locate.weight[0]) + net.locate.bias[0]
            loc -= torch.log_softmax(scores, 0)[where[b]]
            g = net.approx(v[b])
            sims = torch.stack(
                [torch.cosine_similarity(g, net.encoder(sections[c : c + 1])[0], 0) for c in d]
            )
            miss -= torch.log_softmax(sims / 0.5, 0)[n]
    parts = {k: v.detach() for k, v in parts.items()}
    assert float(parts["justify"]) == pytest.approx(float(just), abs=1e-5)
    assert float(parts["locate"]) == pytest.approx(float(loc) / len(d), abs=1e-5)
    assert float(parts["missing"]) == pytest.approx(float(miss) / len(d), abs=1e-5)


def test_continuity_training_learns_to_justify():
    world = make_world(seed=0)
    torch.manual_seed(0)
    net = ContinuityNetwork(world.channels, hidden=16, d=16)
    losses = net.fit(lambda n, g: world.sample(n, 48, g)[0], steps=120, clip=24, missing=6, margin=3)
    assert sum(losses[-10:]) < sum(losses[:10])
    ev = net.evaluate(
        world.sample(256, 48, torch.Generator().manual_seed(5))[0], clip=24, missing=6, margin=3
    )
    assert ev["justify"] > 0.6 and ev["locate"] > 0.3, ev  # chances 0.5 and 1/19 (256 clips)


def test_registered_with_their_papers():
    assert registry.get("embedder", "sorting_opn").implements[0].arxiv == "1708.01246"
    assert registry.get("embedder", "continuity_cpnet").implements[0].arxiv == "2112.05883"
