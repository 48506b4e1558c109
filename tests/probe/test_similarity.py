"""CKA, SVCCA and mutual k-NN against direct formulas, plain loops and an independent CCA solver."""

import itertools
import math

import numpy as np
import pytest
import torch

from seqlab.probe import canonical_correlations, cka, mutual_knn, svcca
from seqlab.probe.similarity import gram_rbf, hsic, hsic_unbiased


def _rand(n, d, seed):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _orthogonal(d, seed):
    q, _ = torch.linalg.qr(_rand(d, d, seed))
    return q


def test_linear_cka_matches_the_feature_space_formula():
    X, Y = _rand(30, 7, 0), _rand(30, 5, 1) + 0.5 * _rand(30, 7, 0)[:, :5]
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    direct = (Yc.T @ Xc).norm() ** 2 / ((Xc.T @ Xc).norm() * (Yc.T @ Yc).norm())
    assert cka(X, Y) == pytest.approx(float(direct), rel=1e-10)


def test_biased_hsic_is_the_trace_formula():
    X, Y = _rand(9, 3, 2), _rand(9, 4, 3)
    K, L = X @ X.T, Y @ Y.T
    H = torch.eye(9, dtype=torch.float64) - 1 / 9
    assert hsic(K, L) == pytest.approx(float(torch.trace(K @ H @ L @ H)) / 64, rel=1e-10)


def test_unbiased_hsic_is_the_u_statistic_over_distinct_quadruples():
    n = 7
    X, Y = _rand(n, 3, 4), _rand(n, 2, 5)
    K, L = X @ X.T, torch.exp(-(torch.cdist(Y, Y) ** 2))
    total, count = 0.0, 0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += float(K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2 * K[i, j] * L[i, q])
        count += 1
    assert hsic_unbiased(K, L) == pytest.approx(total / count, rel=1e-9)


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("debiased", [False, True])
def test_cka_of_a_space_with_itself_is_one(kernel, debiased):
    X = _rand(40, 6, 6)
    assert cka(X, X, kernel=kernel, debiased=debiased) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("debiased", [False, True])
def test_cka_is_invariant_to_orthogonal_maps_and_isotropic_scaling(kernel, debiased):
    X, Y = _rand(50, 8, 7), _rand(50, 6, 8) + _rand(50, 8, 7)[:, :6]
    base = cka(X, Y, kernel=kernel, debiased=debiased)
    X2, Y2 = 3.7 * X @ _orthogonal(8, 9) + 2.0, Y @ _orthogonal(6, 10) * 0.1
    moved = cka(X2, Y2, kernel=kernel, debiased=debiased)
    assert moved == pytest.approx(base, rel=1e-8)
    assert 0.05 < base < 0.99


def test_linear_cka_is_not_invariant_to_anisotropic_scaling():
    X, Y = _rand(50, 8, 11), _rand(50, 8, 11) + 0.3 * _rand(50, 8, 12)
    scaled = X * torch.linspace(0.1, 5, 8, dtype=torch.float64)
    assert abs(cka(scaled, Y) - cka(X, Y)) > 1e-3


def test_debiased_cka_removes_the_bias_on_independent_wide_spaces():
    X, Y = _rand(30, 500, 13), _rand(30, 500, 14)
    assert cka(X, Y) > 0.5  # the biased estimator sees similarity where there is none
    assert abs(cka(X, Y, debiased=True)) < 0.1


def test_rbf_gram_uses_the_median_heuristic():
    X = _rand(10, 3, 15)
    d2 = torch.cdist(X, X) ** 2
    med = float(d2[~torch.eye(10, dtype=torch.bool)].median())
    assert torch.allclose(gram_rbf(X, 0.5), torch.exp(-d2 / (2 * 0.25 * med)), atol=1e-10)


def _cca_generalised_eigen(X, Y):
    """Canonical correlations from Sxx^-1 Sxy Syy^-1 Syx (numpy, independent of the SVD route)."""
    X = (X - X.mean(0)).numpy()
    Y = (Y - Y.mean(0)).numpy()
    Sxx, Syy, Sxy = X.T @ X, Y.T @ Y, X.T @ Y
    M = np.linalg.solve(Sxx, Sxy) @ np.linalg.solve(Syy, Sxy.T)
    ev = np.sort(np.clip(np.linalg.eigvals(M).real, 0, 1))[::-1]
    return np.sqrt(ev[: min(X.shape[1], Y.shape[1])])


def test_canonical_correlations_match_the_generalised_eigenproblem():
    X = _rand(60, 4, 16)
    Y = torch.cat([X[:, :2] @ _rand(2, 2, 17), _rand(60, 3, 18)], 1) + 0.3 * _rand(60, 5, 19)
    ours = canonical_correlations(X, Y, keep=1.0).numpy()
    assert np.allclose(ours, _cca_generalised_eigen(X, Y), atol=1e-8)
    assert svcca(X, Y, keep=1.0) == pytest.approx(float(ours.mean()))


def test_svcca_is_invariant_to_invertible_linear_maps_and_one_for_itself():
    X, Y = _rand(40, 5, 20), _rand(40, 5, 21) + _rand(40, 5, 20)
    A = _rand(5, 5, 22) + 3 * torch.eye(5, dtype=torch.float64)
    assert svcca(X, Y, keep=1.0) == pytest.approx(svcca(X @ A, Y, keep=1.0), rel=1e-8)
    assert svcca(X, X) == pytest.approx(1.0, abs=1e-10)


def test_svcca_keeps_the_directions_that_explain_the_variance():
    g = torch.Generator().manual_seed(23)
    signal = torch.randn(200, 2, generator=g, dtype=torch.float64)
    X = torch.cat([10 * signal, 0.01 * torch.randn(200, 6, generator=g, dtype=torch.float64)], 1)
    Y = torch.cat([signal @ _rand(2, 2, 24), 0.01 * torch.randn(200, 6, generator=g, dtype=torch.float64)], 1)
    assert canonical_correlations(X, Y, keep=0.99).numel() == 2
    assert svcca(X, Y, keep=0.99) > 0.99


def _mutual_knn_loop(X, Y, k):
    n = len(X)
    Xn, Yn = X / X.norm(dim=1, keepdim=True), Y / Y.norm(dim=1, keepdim=True)
    total = 0.0
    for i in range(n):
        sx = sorted((j for j in range(n) if j != i), key=lambda j: -float(Xn[i] @ Xn[j]))[:k]
        sy = sorted((j for j in range(n) if j != i), key=lambda j: -float(Yn[i] @ Yn[j]))[:k]
        total += len(set(sx) & set(sy)) / k
    return total / n


def test_mutual_knn_matches_a_plain_loop():
    X, Y = _rand(25, 4, 25), _rand(25, 4, 25) + 0.7 * _rand(25, 4, 26)
    assert mutual_knn(X, Y, 5) == pytest.approx(_mutual_knn_loop(X, Y, 5))


def test_mutual_knn_is_one_for_a_space_with_itself_and_its_rotations():
    X = _rand(80, 10, 27)
    assert mutual_knn(X, X, 7) == 1.0
    assert mutual_knn(X, 2.5 * X @ _orthogonal(10, 28), 7) == 1.0


def test_mutual_knn_of_independent_spaces_is_near_k_over_n():
    n, k = 400, 10
    scores = [mutual_knn(_rand(n, 16, 30 + s), _rand(n, 16, 60 + s), k) for s in range(3)]
    expected = k / (n - 1)
    assert abs(np.mean(scores) - expected) < 0.01
    assert mutual_knn(_rand(n, 16, 90), _rand(n, 16, 90), k, metric="euclidean") == 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cka(torch.randn(10, 3), torch.randn(9, 3)), "same samples"),
        (lambda: mutual_knn(torch.randn(10, 3), torch.randn(9, 3), 2), "same samples"),
        (lambda: svcca(torch.randn(10, 3), torch.randn(11, 3)), "same samples"),
        (lambda: mutual_knn(torch.randn(10, 3), torch.randn(10, 3), 10), "k must be"),
        (lambda: mutual_knn(torch.randn(10, 3), torch.randn(10, 3), 0), "k must be"),
        (lambda: cka(torch.full((5, 2), math.nan), torch.randn(5, 2)), "NaN or inf"),
        (lambda: mutual_knn(torch.randn(5, 2), torch.tensor([[math.inf, 0.0]] * 5), 2), "NaN or inf"),
        (lambda: cka(torch.randn(5, 2, 3), torch.randn(5, 2)), r"shape \(N, d\)"),
        (lambda: cka(torch.randn(5, 2), torch.randn(5, 2), kernel="poly"), "kernel must be"),
        (lambda: cka(torch.randn(3, 2), torch.randn(3, 2), debiased=True), "at least 4"),
        (lambda: cka(torch.ones(6, 2), torch.randn(6, 2)), "no variance"),
        (lambda: svcca(torch.randn(6, 2), torch.randn(6, 2), keep=0.0), "keep must be"),
        (lambda: mutual_knn(torch.randn(6, 2), torch.randn(6, 2), 2, metric="l1"), "metric must be"),
    ],
)
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_accepts_numpy_and_float32():
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    assert cka(X, X) == pytest.approx(1.0)
    assert mutual_knn(torch.from_numpy(X), X, 3) == 1.0
