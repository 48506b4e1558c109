"""Layer metrics against direct formulas: entropy, curvature, InfoNCE, flow statistics, the ridge probe."""

import math

import numpy as np
import pytest
import torch

from seqlab.models import SequenceModel
from seqlab.probe import layer_states
from seqlab.probe.layers import (
    augment,
    augmentation_invariance,
    best_layers,
    curvature,
    info_nce,
    layer_flow,
    layer_stability,
    pooled,
    probe_accuracy,
    prompt_entropy,
    renyi_entropy,
    token_similarity,
)
from seqlab.probe.similarity import cka


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_renyi_entropy_matches_the_eigenvalue_formula(alpha):
    z = _rand(6, 4, seed=1)
    K = (z @ z.T).numpy()
    lam = np.clip(np.linalg.eigvalsh(K / np.trace(K)), 0, None)
    lam = lam[lam > 1e-15]
    direct = -(lam * np.log2(lam)).sum() if alpha == 1.0 else np.log2((lam**alpha).sum()) / (1 - alpha)
    assert renyi_entropy(z, alpha) == pytest.approx(direct, rel=1e-9)


def test_prompt_entropy_extremes():
    one_line = torch.outer(torch.arange(1.0, 6.0), torch.tensor([1.0, 2.0, 0.5]))[None]
    assert prompt_entropy(one_line) == pytest.approx(0.0, abs=1e-9)
    orthogonal = torch.eye(8)[None] * 3.0
    assert prompt_entropy(orthogonal) == pytest.approx(3.0)  # log2 8
    assert prompt_entropy(orthogonal, alpha=2.0) == pytest.approx(3.0)


def test_prompt_entropy_ignores_padding():
    z = _rand(1, 5, 4, seed=2)
    padded = torch.cat([torch.zeros(1, 3, 4, dtype=torch.float64), z], 1) + 0.0
    padded[0, :3] = 100.0  # garbage in padded positions
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1]])
    assert prompt_entropy(padded, mask) == pytest.approx(prompt_entropy(z))


def test_curvature_of_a_line_a_square_and_a_plain_loop():
    line = torch.arange(6.0)[:, None] * torch.tensor([1.0, 2.0])
    assert curvature(line[None]) == pytest.approx(0.0, abs=1e-6)
    square = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    assert curvature(square[None]) == pytest.approx(math.pi / 2)
    z = _rand(7, 5, seed=3)
    angles = []
    for k in range(5):
        a, b = z[k + 1] - z[k], z[k + 2] - z[k + 1]
        angles.append(math.acos(float(a @ b / (a.norm() * b.norm()))))
    assert curvature(z[None]) == pytest.approx(sum(angles) / 5, rel=1e-9)


def test_info_nce_matches_a_plain_loop_and_orders_views():
    a, b = _rand(5, 3, seed=4), _rand(5, 3, seed=5)
    an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    s = (an @ bn.T / 0.1).numpy()
    rows = np.mean([-s[i, i] + np.log(np.exp(s[i]).sum()) for i in range(5)])
    cols = np.mean([-s[i, i] + np.log(np.exp(s[:, i]).sum()) for i in range(5)])
    assert info_nce(a, b) == pytest.approx((rows + cols) / 2, rel=1e-9)
    assert info_nce(a, a + 0.01 * b) < info_nce(a, b)


def test_augmentation_invariance_is_lower_for_closer_views():
    h = _rand(6, 4, 8, seed=6)
    assert augmentation_invariance(h, h + 0.01 * _rand(6, 4, 8, seed=7)) < augmentation_invariance(
        h, _rand(6, 4, 8, seed=8)
    )


def test_augment_is_seeded_and_changes_text():
    t = "the quick brown fox jumps over the lazy sleeping dog near the river bank"
    assert augment(t, 3, p=0.5) == augment(t, 3, p=0.5)
    assert augment(t, 3, p=0.5) != t and augment(t, 3, p=0.0) == t


def test_token_similarity_and_stability_direct():
    same = torch.ones(2, 4, 3)
    assert token_similarity(same) == pytest.approx(1.0)
    z = _rand(1, 4, 3, seed=9)
    u = z[0] / z[0].norm(dim=1, keepdim=True)
    direct = float(sum(u[i] @ u[j] for i in range(4) for j in range(4) if i != j) / 12)
    assert token_similarity(z) == pytest.approx(direct)
    assert layer_stability(z, 2 * z) == pytest.approx(1.0)
    assert layer_stability(z, -z) == pytest.approx(-1.0)


def test_probe_accuracy_separates_and_is_chance_on_noise():
    g = torch.Generator().manual_seed(10)
    y = torch.arange(200) % 2
    X = torch.randn(200, 5, generator=g, dtype=torch.float64)
    X[:, 0] += 4 * y - 2
    assert probe_accuracy(X, y) > 0.95
    noise = [probe_accuracy(torch.randn(200, 5, generator=g), y, seed=s) for s in range(5)]
    assert abs(np.mean(noise) - 0.5) < 0.1
    wide = probe_accuracy(torch.randn(40, 100, generator=g), y[:40], seed=1)  # dual form, d > N
    assert 0.0 <= wide <= 1.0


def test_layer_flow_on_a_seqlab_model_matches_its_parts():
    torch.manual_seed(0)
    lm = SequenceModel(mixer="attention", d_model=16, n_layers=3, vocab_size=20).eval()
    ids = torch.randint(0, 20, (6, 7), generator=torch.Generator().manual_seed(11))
    states = layer_states(lm, ids)
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    out = layer_flow(states, labels=labels)
    assert len(out["consecutive_cka"]) == 3 and len(out["token_similarity"]) == 4
    assert out["consecutive_cka"][1] == pytest.approx(
        cka(states[1].reshape(-1, 16), states[2].reshape(-1, 16))
    )
    assert out["stability"][0] == pytest.approx(layer_stability(states[0], states[1]))
    assert len(out["probe_accuracy"]) == 4
    assert pooled(states[2]).shape == (6, 16)
    picks = best_layers({**out, "prompt_entropy": [3.0, 1.0, 2.0], "curvature": [0.5, 0.4, 0.1]})
    assert picks["prompt_entropy"] == 1 and picks["curvature"] == 2


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: prompt_entropy(torch.randn(4, 3)), r"\(B, T, d\)"),
        (lambda: curvature(torch.full((1, 4, 3), float("nan"))), "NaN or inf"),
        (lambda: curvature(torch.randn(1, 2, 3)), "at least 3 tokens"),
        (lambda: prompt_entropy(torch.randn(1, 4, 3), torch.ones(1, 5)), "mask must have shape"),
        (lambda: renyi_entropy(torch.randn(3, 2), alpha=0), "alpha must be"),
        (lambda: probe_accuracy(torch.randn(10, 2), torch.zeros(9)), "labels must be"),
        (lambda: info_nce(torch.randn(4, 2), torch.randn(5, 2)), "same shape"),
        (lambda: layer_flow([torch.randn(1, 3, 2)]), "at least 2 layers"),
    ],
)
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
