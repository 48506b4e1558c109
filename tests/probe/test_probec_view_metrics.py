"""LiDAR and DiME (arXiv 2412.09563) against plain-loop numpy formulas and their limiting cases."""

import math

import numpy as np
import pytest
import torch

from seqlab.probe.view_metrics import dime, joint_entropy, lidar, max_dime, view_metrics, view_metrics_of


def _lidar_loop(z, delta=1e-4, eps=1e-7):
    z = np.asarray(z, dtype=np.float64)
    n, k, d = z.shape
    mus = [z[i].mean(0) for i in range(n)]
    mu = sum(mus) / n
    sb = sum(np.outer(m - mu, m - mu) for m in mus) / (n - 1)
    sw = sum(np.outer(z[i, j] - mus[i], z[i, j] - mus[i]) for i in range(n) for j in range(k)) / (n * (k - 1))
    sw = sw + delta * np.eye(d)
    w, v = np.linalg.eigh(sw)
    isq = v @ np.diag(w**-0.5) @ v.T
    lam = np.clip(np.linalg.eigvalsh(isq @ sb @ isq), 0, None)
    p = (lam + eps) / (lam + eps).sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def _entropy_loop(K):
    lam = np.clip(np.linalg.eigvalsh(K / np.trace(K)), 0, None)
    lam = lam[lam > 1e-15]
    return float(-(lam * np.log2(lam)).sum())


def _unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_lidar_matches_the_loop_formula_and_is_rotation_invariant():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 4, 5, generator=g) + 3 * torch.randn(6, 1, 5, generator=g)
    assert lidar(z) == pytest.approx(_lidar_loop(z.numpy()), rel=1e-9)
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g))
    assert lidar(z @ q) == pytest.approx(
        lidar(z), rel=1e-6
    )  # S_w^-1/2 S_b S_w^-1/2 is similar under rotation


def test_lidar_counts_the_separating_directions():
    # 3 samples whose means differ along 2 axes, views spread only along the other axes: 2 directions
    g = torch.Generator().manual_seed(1)
    means = torch.zeros(3, 6)
    means[0, 0], means[1, 1] = 5.0, 5.0
    noise = torch.zeros(3, 10, 6)
    noise[..., 2:] = torch.randn(3, 10, 4, generator=g)
    z = means[:, None] + noise
    val = lidar(z)
    assert val == pytest.approx(_lidar_loop(z.numpy()), rel=1e-9)
    assert 1.5 < val <= 2.0 + 1e-3  # two comparable eigenvalues, the rest ~0
    # views as spread as the samples themselves: nothing is separable beyond the noise
    assert lidar(torch.randn(8, 6, 6, generator=g)) < lidar(
        torch.randn(8, 1, 6, generator=g) * 10 + torch.randn(8, 6, 6, generator=g)
    )


def test_joint_entropy_is_the_entropy_of_the_hadamard_gram():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(7, 3, generator=g).double(), torch.randn(7, 4, generator=g).double()
    K = (a @ a.T).numpy() * (b @ b.T).numpy()
    assert joint_entropy(a, b) == pytest.approx(_entropy_loop(K), abs=1e-9)


def test_dime_matches_the_loop_formula():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(9, 4, generator=g).double()
    b = a + 0.3 * torch.randn(9, 4, generator=g).double()
    ua, ub = _unit(a), _unit(b)
    perm_gen = torch.Generator().manual_seed(5)
    shuffled = []
    for _ in range(4):
        p = torch.randperm(9, generator=perm_gen).numpy()
        shuffled.append(_entropy_loop((ua @ ua.T) * (ub[p] @ ub[p].T)))
    expect = sum(shuffled) / 4 - _entropy_loop((ua @ ua.T) * (ub @ ub.T))
    assert dime(a, b, permutations=4, seed=5) == pytest.approx(expect, abs=1e-9)


def test_dime_is_high_for_agreeing_views_and_near_zero_for_independent_ones():
    g = torch.Generator().manual_seed(4)
    a = torch.randn(32, 4, generator=g)
    same = dime(a, a + 0.05 * torch.randn(32, 4, generator=g))
    indep = dime(a, torch.randn(32, 4, generator=g))
    assert same > 0.3 and abs(indep) < same / 5 and same <= max_dime(32) + 1e-9
    assert max_dime(32) == math.log2(32)


def test_view_metrics_of_runs_per_layer():
    g = torch.Generator().manual_seed(6)
    base = [torch.randn(5, 4, generator=g) for _ in range(3)]
    views = [base, [b + 0.1 * torch.randn(5, 4, generator=g) for b in base]]
    out = view_metrics_of(views)
    assert len(out["lidar"]) == len(out["dime"]) == 3 and all(v > 0 for v in out["dime"])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: lidar(torch.randn(5, 4)), r"\(N samples, K views, d\)"),
        (lambda: lidar(torch.randn(1, 3, 4)), "N=1"),
        (lambda: lidar(torch.full((3, 2, 4), float("nan"))), "NaN"),
        (lambda: dime(torch.randn(4, 2), torch.randn(5, 2)), "same number"),
        (lambda: dime(torch.randn(4, 2), torch.randn(4, 2), permutations=0), "permutations"),
        (lambda: view_metrics_of([[torch.randn(3, 2)]]), ">= 2 views"),
    ],
)
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


class CharLM:
    """Characters as tokens (right-padded), two 'layers': a fixed random embedding and its tanh."""

    padding_side = "right"

    def __init__(self):
        self.table = torch.randn(256, 8, generator=torch.Generator().manual_seed(0))

    def encode(self, texts):
        n = max(len(t) for t in texts)
        ids = torch.tensor([[ord(c) for c in t] + [0] * (n - len(t)) for t in texts])
        mask = torch.tensor([[1] * len(t) + [0] * (n - len(t)) for t in texts])
        return ids, mask

    def hidden_states(self, ids, mask=None):
        e = self.table[ids]
        return (e, torch.tanh(e))


def test_view_metrics_on_a_model_matches_the_pooled_states():
    from seqlab.probe.layers import augment, pooled

    lm = CharLM()
    texts = [f"sentence number {i} about some topic here" for i in range(6)]
    out = view_metrics(lm, texts, views=2, seed=3)
    per_view = []
    for batch in [texts, [augment(t, 3 * 7919 + 104729 + i) for i, t in enumerate(texts)]]:
        ids, mask = lm.encode(batch)
        per_view.append([pooled(h.float(), mask) for h in lm.hidden_states(ids, mask)])
    assert out == view_metrics_of(per_view, seed=3) and len(out["lidar"]) == 2
    with pytest.raises(ValueError, match="views must be >= 2"):
        view_metrics(lm, texts, views=1)
