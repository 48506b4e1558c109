"""The head-count measurement (arXiv 2512.15115) against least squares and constructed operators."""

from __future__ import annotations

import pytest
import torch

from seqlab.probe.headcount import (
    attention_full_operator,
    factorized_fit,
    head_count,
    head_errors,
    heads_needed,
    pair_matrix,
)
from seqlab.registry import create


def heads_operator(n_heads, length=9, d=3, seed=0):
    """``W_ij = sum_h alpha^h_ij V^h`` with random causal scores and value maps."""
    g = torch.Generator().manual_seed(seed)
    alpha = torch.randn(n_heads, length, length, generator=g, dtype=torch.float64).tril()
    V = torch.randn(n_heads, d, d, generator=g, dtype=torch.float64)
    return torch.einsum("hij,hde->ijde", alpha, V)


@pytest.mark.parametrize("h", [1, 2, 4])
def test_constructed_h_head_operator_needs_exactly_h_heads(h):
    W = heads_operator(h)
    errors = head_errors(W, h + 1)
    assert errors[0] == pytest.approx(1.0)
    assert errors[h] < 1e-12 and errors[h - 1] > 1e-3
    assert heads_needed(W) == h
    assert all(a >= b - 1e-15 for a, b in zip(errors, errors[1:]))  # more heads never hurt


def test_svd_error_equals_the_alternating_least_squares_fit():
    W = heads_operator(5, seed=3)  # fitted with fewer heads: a genuine approximation
    errors = head_errors(W, 5)
    for h in (1, 2, 3):
        assert factorized_fit(W, h, iters=400, seed=h) == pytest.approx(errors[h], rel=1e-4)


def test_diagonal_ssm_needs_its_state_dimension_in_heads():
    """A real diagonal SSM with k distinct modes, written out by the plain formula C diag(a^t) B."""
    g = torch.Generator().manual_seed(1)
    k, d, length = 3, 3, 12
    a = torch.tensor([0.5, 0.7, 0.9], dtype=torch.float64)
    B = torch.randn(k, d, generator=g, dtype=torch.float64)
    C = torch.randn(d, k, generator=g, dtype=torch.float64)
    W = torch.zeros(length, length, d, d, dtype=torch.float64)
    for i in range(length):
        for j in range(i + 1):
            W[i, j] = C @ torch.diag(a ** (i - j)) @ B
    assert heads_needed(W) == k


def test_attention_operator_has_at_most_n_heads():
    m = create("mixer", "attention", d_model=8, n_heads=2, pos="none").double()
    x = torch.randn(1, 10, 8, dtype=torch.float64)
    W = attention_full_operator(m, x)
    with torch.no_grad():
        y = m(x) - m.out(m.qkv.bias[16:])  # rows of scores sum to 1: the biases add W_o b_v + b_o
    torch.testing.assert_close(torch.einsum("bijde,bje->bid", W, x), y)
    assert heads_needed(W[0]) == 2


def test_head_count_experiment_reports_k_heads():
    r = head_count({"d_model": 4, "d_state": 2, "length": 10}, seed=0)
    assert r["k"] == 4 and r["heads_needed"] == 4
    assert r["error_at_k"] < 1e-9 < r["error_below_k"] and r["control_error"] < 1e-9


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(L, L, D, D\)"):
        pair_matrix(torch.zeros(3, 4, 2, 2))
    with pytest.raises(ValueError, match="max_heads"):
        head_errors(heads_operator(1), -1)
    with pytest.raises(ValueError, match="zero"):
        head_errors(torch.zeros(3, 3, 2, 2), 1)
