"""Onion (magnitude-coded) representations: the probe, the decoder, interventions, the repeat task."""

import pytest
import torch

from seqlab.probe.onion import (
    Onion,
    decode_onion,
    fit_onion,
    linear_probe_accuracy,
    onion_intervention,
    onion_logits,
    train_onion,
)
from seqlab.tasks.repeat import Repeat

GAMMA = torch.tensor([1.0, 0.3, 0.09, 0.027, 0.008], dtype=torch.float64)


def onion_states(n=1200, V=8, d=12, noise=3e-4, seed=0):
    """States built exactly as an onion: one shared table, one scale per position."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, V, (n, len(GAMMA)), generator=g)
    E = torch.randn(V, d, generator=g, dtype=torch.float64)
    h = (
        torch.einsum("p,npd->nd", GAMMA, E[x])
        + 0.5
        + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
    )
    return h, x, E


def test_fit_recovers_the_scales_and_decoding_is_exact():
    h, x, _ = onion_states()
    o = fit_onion(h[:800], x[:800], 8)
    g = o.gamma * torch.sign(o.gamma[0])
    assert torch.allclose(g / g[0], GAMMA, atol=1e-3)
    assert torch.equal(decode_onion(o, h[800:]), x[800:])
    # the model reconstructs the states up to the noise
    assert float((o.reconstruct(x) - h).abs().max()) < 5e-3


def test_a_linear_probe_cannot_read_the_inner_layers():
    h, x, _ = onion_states()
    acc = linear_probe_accuracy(h[:800], x[:800], h[800:], x[800:])
    assert acc[0] > 0.95  # the outer layer dominates the direction
    assert max(acc[1:]) < 0.35  # inner layers share the same subspace: near chance 1/8


def test_linear_probe_matches_a_plain_least_squares_loop():
    g = torch.Generator().manual_seed(1)
    h = torch.randn(60, 3, generator=g, dtype=torch.float64)
    x = (h[:, :1] > 0).long().repeat(1, 2)
    x[:, 1] = (h[:, 1] > 0).long()
    acc = linear_probe_accuracy(h[:40], x[:40], h[40:], x[40:], ridge=1e-9)
    for p in range(2):  # unregularised one-vs-rest least squares on standardised features, by hand
        mu, sd = h[:40].mean(0), h[:40].std(0)
        Z = torch.cat([(h[:40] - mu) / sd, torch.ones(40, 1, dtype=h.dtype)], 1)
        Y = torch.nn.functional.one_hot(x[:40, p], 2).double() * 2 - 1
        W = torch.linalg.lstsq(Z, Y).solution
        Zt = torch.cat([(h[40:] - mu) / sd, torch.ones(20, 1, dtype=h.dtype)], 1)
        assert acc[p] == pytest.approx(float(((Zt @ W).argmax(1) == x[40:, p]).double().mean()))


def test_trained_probe_keeps_exact_decoding_and_logits_follow_the_formula():
    h, x, _ = onion_states(n=600)
    o = train_onion(h[:400], x[:400], 8, steps=20)
    assert torch.equal(decode_onion(o, h[400:]), x[400:])
    logits = onion_logits(o, h[:3], x[:3], 2.0)
    order = torch.argsort(o.gamma.abs(), descending=True).tolist()
    r = h[:3] - o.bias
    for p in order:  # a plain loop: distances of the residual to every scaled table row
        for v in range(8):
            want = -float(((r - o.gamma[p] * o.table[v]) ** 2).sum(1)[0]) / 2.0
            assert float(logits[0, p, v]) == pytest.approx(want, rel=1e-9)
        r = r - o.gamma[p] * o.table[x[:3, p]]


def test_intervention_moves_exactly_one_layer():
    h, x, _ = onion_states(n=600)
    o = fit_onion(h, x, 8)
    new = (x[:, 2] + 1) % 8
    h2 = onion_intervention(o, h, x, 2, new)
    want = x.clone()
    want[:, 2] = new
    assert torch.allclose(h2 - h, o.reconstruct(want) - o.reconstruct(x))
    assert torch.equal(decode_onion(o, h2), want)


def test_bad_input_is_a_clear_error():
    h, x, _ = onion_states(n=50)
    with pytest.raises(ValueError, match="same number of samples"):
        fit_onion(h, x[:40], 8)
    with pytest.raises(ValueError, match="token ids"):
        fit_onion(h, x + 8, 8)
    with pytest.raises(ValueError, match="integer"):
        fit_onion(h, x.float(), 8)
    with pytest.raises(ValueError, match="NaN|finite"):
        fit_onion(h * float("nan"), x, 8)
    o = Onion(torch.zeros(12, dtype=torch.float64), GAMMA, torch.ones(8, 12, dtype=torch.float64))
    with pytest.raises(ValueError, match="d=12"):
        decode_onion(o, h[:, :5])
    with pytest.raises(ValueError, match="position"):
        onion_intervention(o, h, x, 7, x[:, 0])


def test_repeat_task_format():
    t = Repeat(n_symbols=5, length=4)
    b = t.sample(3, seed=0)
    x = b["inputs"][:, :4]
    assert t.vocab_size == 6 and t.n_outputs == 5 and b["inputs"].shape == (3, 8)
    assert (b["inputs"][:, 4] == 5).all() and torch.equal(b["inputs"][:, 5:], x[:, :3])
    assert torch.equal(b["targets"][:, 4:], x) and b["mask"].sum() == 12 and not b["mask"][:, :4].any()
    with pytest.raises(ValueError, match="length"):
        t.sample(2, seed=0, length=9)
    with pytest.raises(ValueError, match="n_symbols"):
        Repeat(n_symbols=1)


def test_repeat_experiment_runs_and_generation_matches_teacher_forcing():
    from seqlab.probe.repeat_rnn import RepeatGRU, delimiter_states, generate_from, rnn_repeat

    torch.manual_seed(0)
    t = Repeat(n_symbols=4, length=3)
    m = RepeatGRU(t.vocab_size, t.n_outputs, 8, 8).eval()
    b = t.sample(5, seed=1)
    with torch.no_grad():
        h = delimiter_states(m, b["inputs"], 3)
        gen = generate_from(m, h, m.head(m.gru.out(h)), 3)
        # feeding the greedy outputs back as inputs, the full forward pass predicts the same tokens
        ids = torch.cat([b["inputs"][:, :4], gen[:, :2]], 1)
        assert torch.equal(m(ids)[:, 3:].argmax(-1), gen)
    r = rnn_repeat(
        {"symbols": 4, "length": 3, "hidden": 8, "steps": 5, "n_fit": 60, "n_test": 30, "probe_steps": 3}, 0
    )
    assert 0 <= r["onion_accuracy"] <= 1 and r["gap"] == pytest.approx(
        r["onion_accuracy"] - r["linear_accuracy"]
    )
    assert len(r["intervention_per_position"]) <= 3 and r["no_intervention_success"] <= 1
