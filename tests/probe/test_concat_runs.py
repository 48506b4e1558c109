"""Concatenated seeded runs under a shift (arXiv 2212.07346): data, features, probes."""

from __future__ import annotations

import pytest
import torch

from seqlab.models import SequenceModel
from seqlab.probe.concat_runs import (
    EASY,
    FIRST,
    SECOND,
    concat_features,
    redundant_bigrams,
    sequence_features,
)
from seqlab.probe.concat_runs_experiment import CONCAT_DEFAULTS, concat_shift_of, shift_probe


def _has_bigram(row) -> bool:
    return any(int(row[i]) == FIRST and int(row[i + 1]) == SECOND for i in range(len(row) - 1))


def test_cues_are_exactly_as_labelled_correlated_at_source_and_independent_after_the_shift():
    gen = torch.Generator().manual_seed(0)
    for correlated in (True, False):
        x, easy, bigram = redundant_bigrams(400, 16, 12, gen, correlated)
        assert x.shape == (400, 16) and int(x.min()) >= 1 and int(x.max()) < 12
        for row, e, b in zip(x, easy.tolist(), bigram.tolist(), strict=True):
            assert bool((row == EASY).any()) == bool(e)  # a plain scan of every row
            assert _has_bigram(row) == bool(b)
        if correlated:
            assert torch.equal(easy, bigram)
        else:
            agree = float((easy == bigram).double().mean())
            assert 0.4 < agree < 0.6
    lone = (x == FIRST).any(1) & ~bigram.bool()
    assert int(lone.sum()) > 50  # the bigram's tokens also occur alone: presence is not the cue


def test_sequence_features_feed_the_head_and_concatenate_per_model():
    torch.manual_seed(0)
    models = [
        SequenceModel(mixer="gru", d_model=d, n_layers=1, vocab_size=12, n_outputs=2).eval() for d in (4, 6)
    ]
    x = torch.randint(0, 12, (5, 9))
    f = sequence_features(models[0], x)
    assert f.shape == (5, 4)
    with torch.no_grad():
        torch.testing.assert_close(models[0].head(f), models[0](x)[:, -1])
    both = concat_features(models, x)
    assert both.shape == (5, 10)
    torch.testing.assert_close(both[:, 4:], sequence_features(models[1], x))


def test_shift_probe_reads_a_linearly_present_cue_and_not_noise():
    gen = torch.Generator().manual_seed(1)
    y = torch.randint(0, 2, (400,), generator=gen)
    feats = torch.cat(
        [
            y[:, None].double() + 0.1 * torch.randn(400, 1, generator=gen, dtype=torch.float64),
            torch.randn(400, 3, generator=gen, dtype=torch.float64),
        ],
        1,
    )
    noise = torch.randint(0, 2, (400,), generator=gen)
    acc = shift_probe(feats, {"cue": y, "noise": noise}, 200, 1.0)
    assert acc["cue"] == 1.0 and abs(acc["noise"] - 0.5) < 0.1


def test_the_experiment_runs_small_and_reports_every_arm():
    p = {**CONCAT_DEFAULTS, "k": 2, "d": 4, "steps": 3, "batch": 8, "n_probe": 64, "n_test": 64}
    r = concat_shift_of(p, seed=0)
    for key in (
        "concat",
        "wide",
        "single",
        "random_concat",
        "concat_easy",
        "wide_bigram",
        "min_source_accuracy",
    ):
        assert 0.0 <= r[key] <= 1.0
    assert r["gain"] == pytest.approx(r["concat"] - r["wide"]) and len(r["source_accuracy"]) == 3


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="vocab >= 6 and length >= 6"):
        redundant_bigrams(4, 3, 12, torch.Generator(), True)
    with pytest.raises(ValueError, match="at least one model"):
        concat_features([], torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="SequenceModel"):
        sequence_features(torch.nn.Linear(2, 2), torch.zeros(1, 2))
