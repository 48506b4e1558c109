import itertools
import math

import numpy as np
import pytest
import torch

from seqlab.registry import create


def _segment_loglik(seg, K, a):
    """log Dirichlet-multinomial marginal likelihood of one segment (an ordered sequence)."""
    out = math.lgamma(K * a) - math.lgamma(K * a + len(seg))
    for k in range(K):
        c = seg.count(k)
        out += math.lgamma(a + c) - math.lgamma(a)
    return out


def _brute_force_predictive(x, K, a, prior):
    """-log p(x_t | x_<t) by summing over every switch pattern of the L-1 slots."""
    L = len(x)
    patterns = list(itertools.product([0, 1], repeat=L - 1))

    def log_joint(t):  # log p(x_0..x_{t-1})
        total = 0.0
        for pat in patterns:
            pr = prior(pat)
            if pr == 0:
                continue
            starts = [0] + [i + 1 for i, s in enumerate(pat) if s and i + 1 < t]
            bounds = starts + [t]
            ll = sum(_segment_loglik(x[b:e], K, a) for b, e in zip(bounds, bounds[1:]))
            total += pr * math.exp(ll)
        return math.log(total)

    return [log_joint(t) - log_joint(t + 1) for t in range(L)]


@pytest.mark.parametrize("K, a", [(2, 0.5), (3, 1.0)])
def test_bayes_matches_brute_force_with_switch_prob(K, a):
    h, L = 0.3, 6
    task = create("task", "nonstationary", n_symbols=K, seq_len=L, switch_prob=h, alpha=a)
    b = task.sample(3, seed=0)
    p = task.bayes_predictive(b["targets"])
    assert torch.allclose(p.sum(-1), torch.ones(3, L, dtype=torch.float64))
    for i in range(3):
        x = b["targets"][i].tolist()
        want = _brute_force_predictive(x, K, a, lambda pat: math.prod(h if s else 1 - h for s in pat))
        got = (-p[i, torch.arange(L), b["targets"][i]].log()).tolist()
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert task.bayes_log_loss(b) == pytest.approx(
        (-p.gather(2, b["targets"].unsqueeze(-1)).log()).mean().item(), rel=1e-9
    )


def test_bayes_matches_brute_force_with_fixed_switches():
    L, k = 7, 2
    task = create("task", "nonstationary", seq_len=L, n_switches=k)
    b = task.sample(3, seed=1)
    assert ((b["targets"] >= 0) & (b["targets"] < 2)).all()
    p = task.bayes_predictive(b["targets"])
    n_pat = math.comb(L - 1, k)
    for i in range(3):
        x = b["targets"][i].tolist()
        want = _brute_force_predictive(x, 2, 0.5, lambda pat: (sum(pat) == k) / n_pat)
        got = (-p[i, torch.arange(L), b["targets"][i]].log()).tolist()
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_stream_format_and_switch_statistics():
    task = create("task", "nonstationary", n_symbols=3, seq_len=50, switch_prob=0.1)
    b = task.sample(4, seed=0)
    assert (b["inputs"][:, 0] == 3).all() and torch.equal(b["inputs"][:, 1:], b["targets"][:, :-1])
    sw = task.switches(2000, np.random.default_rng(0))
    assert not sw[:, 0].any() and abs(sw[:, 1:].mean() - 0.1) < 0.01
    fixed = create("task", "nonstationary", seq_len=20, n_switches=3)
    assert (fixed.switches(50, np.random.default_rng(0)).sum(1) == 3).all()


def test_bayes_beats_a_stationary_predictor_when_sources_switch():
    task = create("task", "nonstationary", seq_len=200, switch_prob=0.02)
    b = task.sample(32, seed=0)
    x = b["targets"]
    ones = torch.cat([torch.zeros(32, 1), x.cumsum(1)[:, :-1].double()], dim=1)
    t = torch.arange(200, dtype=torch.float64)
    p1 = (ones + 0.5) / (t + 1)  # KT estimator ignoring switches
    kt = -torch.where(x == 1, p1, 1 - p1).log().mean().item()
    assert task.bayes_log_loss(b) < kt < math.log(2)


@pytest.mark.parametrize(
    "cfg, msg",
    [
        (dict(seq_len=4, n_switches=4), "seq_len >= n_switches \\+ 1 = 5"),
        (dict(switch_prob=1.5), "switch_prob must lie in"),
        (dict(alpha=0.0), "alpha"),
        (dict(n_symbols=1), "n_symbols must be >= 2"),
    ],
)
def test_constraints(cfg, msg):
    with pytest.raises(ValueError, match=msg):
        create("task", "nonstationary", **cfg)


def test_bayes_predictive_rejects_bad_symbols():
    task = create("task", "nonstationary", seq_len=8)
    with pytest.raises(ValueError, match="symbols must lie in"):
        task.bayes_predictive(torch.full((1, 8), 2))
    with pytest.raises(ValueError, match="int64"):
        task.bayes_predictive(torch.zeros(1, 9, dtype=torch.long))
