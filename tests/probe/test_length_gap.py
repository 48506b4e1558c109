"""Length gap of a selective SSM and the representation-flow comparison: formulas and tiny runs."""

import numpy as np
import pytest
import torch

from seqlab.probe.flow_experiment import early_gap, flow_experiment
from seqlab.probe.length_gap import FlatReadout, gap_slope, length_gap, majority_batch


def test_gap_slope_is_the_least_squares_slope_in_log2_length():
    T, g = [9, 17, 33, 65], [0.1, 0.12, 0.2, 0.15]
    want = np.polyfit(np.log2(T), g, 1)[0]
    assert gap_slope(T, g) == pytest.approx(want)
    assert gap_slope([4, 8, 16], [0.1, 0.2, 0.3]) == pytest.approx(0.1)
    assert gap_slope([4, 8, 16], [0.2, 0.2, 0.2]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="pairs"):
        gap_slope([4], [0.1])
    with pytest.raises(ValueError, match="distinct"):
        gap_slope([4, 4], [0.1, 0.2])


def test_majority_labels_and_errors():
    ids, y = majority_batch(50, 7, torch.Generator().manual_seed(0))
    assert torch.equal(y, (ids.sum(1) >= 4).long())
    with pytest.raises(ValueError, match="odd"):
        majority_batch(5, 8, torch.Generator())


def test_flat_readout_has_one_weight_per_position_and_symbol():
    m = FlatReadout(9, 2)
    assert m.lin.weight.shape == (2, 18) and m(torch.zeros(3, 9, dtype=torch.long)).shape == (3, 2)


def test_length_gap_tiny_run():
    r = length_gap({"lengths": [3, 5], "n_train": 16, "n_test": 16, "d_model": 8, "steps": 2}, 0)
    for name in ("mamba", "flat", "attention_ape"):
        gaps = r[f"{name}_gap"]
        assert gaps == pytest.approx([a - b for a, b in zip(r[f"{name}_train"], r[f"{name}_test"])])
        assert r[f"{name}_slope"] == pytest.approx(gap_slope([3, 5], gaps))


def test_early_gap_formula_and_errors():
    tbm, ssm = [0.1, 0.5, 0.6, 0.7, 0.9], [0.1, 0.2, 0.3, 0.8, 0.9]
    assert early_gap(tbm, ssm) == pytest.approx(((0.5 - 0.2) + (0.6 - 0.3)) / 2)
    with pytest.raises(ValueError, match="same length"):
        early_gap(tbm, ssm[:4])


def test_flow_tiny_run():
    r = flow_experiment({"d_model": 8, "n_layers": 2, "steps": 1, "batch": 2, "length": 8, "n_eval": 3}, 0)
    assert len(r["ssm_token_similarity"]) == 3 and len(r["transformer_consecutive_cka"]) == 2
    assert r["early_gap"] == pytest.approx(
        r["transformer_token_similarity"][1] - r["ssm_token_similarity"][1]
    )
    assert r["worst_bits_ratio"] > 0.5  # one step: no better than the unigram model by much


def test_context_probe_reads_the_lagged_token_and_splits_by_window():
    from seqlab.probe.flow_experiment import context_probe

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 5, (20, 12), generator=g)
    lagged = torch.zeros(20, 12, 5)
    lagged[:, 2:] = torch.nn.functional.one_hot(ids[:, :-2], 5).float()  # state at t holds ids[t - 2]
    noise = torch.randn(20, 12, 5, generator=g)
    acc = context_probe([lagged, noise], ids, 2)
    assert acc[0] == 1.0 and acc[1] < 0.5
    assert context_probe([lagged], ids, 1)[0] < 0.5  # the wrong lag reads nothing
    with pytest.raises(ValueError, match="lag"):
        context_probe([lagged], ids, 12)
