"""Checkpoint study of the layer metrics (arXiv 2412.09563): helpers against direct formulas, tiny run."""

import pytest
import torch

from seqlab.probe.checkpoint_layers import (
    checkpoint_layers,
    checkpoint_steps,
    next_token_probe,
    noisy_copy,
    picks,
)
from seqlab.probe.layers import prompt_entropy


def test_checkpoint_steps_are_even_and_include_both_ends():
    assert checkpoint_steps(300, 4) == [0, 100, 200, 300]
    assert checkpoint_steps(10, 3) == [0, 5, 10]
    assert checkpoint_steps(2, 5) == [0, 1, 2]  # rounding merges duplicates
    with pytest.raises(ValueError, match="checkpoints >= 2"):
        checkpoint_steps(10, 1)


def test_picks_ignore_the_embedding_layer():
    r = picks([0.0, 3.0, 1.0, 2.0], [9.0, 1.0, 2.0, 5.0], [1.0, 0.2, 0.9, 0.1])
    assert r == {"entropy_layer": 2, "lidar_layer": 3, "probe_layer": 2}


def test_next_token_probe_reads_a_state_that_holds_the_target():
    g = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, 5, (20, 10), generator=g)
    targets = torch.randint(0, 5, (20, 10), generator=g)
    holds = torch.nn.functional.one_hot(targets, 5).float() + 0.01 * torch.randn(20, 10, 5, generator=g)
    noise = torch.randn(20, 10, 5, generator=g)
    acc = next_token_probe([holds, noise], inputs, targets)
    assert acc[0] == 1.0 and acc[1] < 0.5
    with pytest.raises(ValueError, match="targets must match"):
        next_token_probe([holds], inputs, targets[:, :4])
    with pytest.raises(ValueError, match=">= 2 windows"):
        next_token_probe([holds[:1]], inputs[:1], targets[:1])


def test_noisy_copy_flips_about_p_of_the_positions():
    ids = torch.zeros(200, 50, dtype=torch.long)
    out = noisy_copy(ids, 10, 0.2, torch.Generator().manual_seed(0))
    changed = float((out != ids).double().mean())
    assert 0.2 * 0.9 * 0.85 < changed < 0.2 * 0.9 * 1.15  # a flip to the same symbol (1 in 10) is no change
    assert torch.equal(noisy_copy(ids, 10, 0.0, torch.Generator()), ids)


def test_tiny_run_reports_every_layer_at_every_checkpoint():
    r = checkpoint_layers({"steps": 2, "checkpoints": 2, "n_eval": 6, "n_layers": 2, "d_model": 16}, 0)
    assert [c["step"] for c in r["checkpoints"]] == [0, 2]
    for c in r["checkpoints"]:
        assert len(c["entropy"]) == len(c["lidar"]) == len(c["next_probe"]) == 3
        assert c == {**c, **picks(c["entropy"], c["lidar"], c["next_probe"])}
    last = r["checkpoints"][-1]
    assert r["final_bits"] == last["bits"] and r["entropy_hits"] == float(
        last["entropy_layer"] == last["probe_layer"]
    )
    assert r["checkpoints"][-1]["bits"] < r["checkpoints"][0]["bits"]  # two Adam steps lower the loss
    assert all(e >= 0 for e in last["entropy"]) and prompt_entropy(torch.ones(1, 4, 3)) == pytest.approx(0.0)
