"""Criterion tests of the generate claims: trivial rows never pass, good rows can, a missed control is
inconclusive."""

from __future__ import annotations

import pytest

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_generate import CLAIMS as GEN


def _drift(keyframe, direct=1.0, mean=0.5, copy=1.2, fit=0.05):
    def make(seed, j):
        row = {f"{a}_{m}x": 0.5 for a in ("direct", "keyframe", "mean", "copy_last") for m in (2, 4)}
        row.update({"mean_1x": 0.5, "direct_1x": fit, "keyframe_1x": fit, "copy_last_1x": 1.0})
        row.update(
            {
                "keyframe_8x": keyframe * (1 + j),
                "direct_8x": direct,
                "mean_8x": mean,
                "copy_last_8x": copy,
            }
        )
        return {"drift": row}

    return make


def _energy(sled, rvq=0.3, copy=0.45, mean=1.2):
    def make(seed, j):
        return {
            "sled": {
                "energy_sled": sled * (1 + j),
                "energy_rvq": rvq,
                "energy_copy_last": copy,
                "energy_mean": mean,
                "rvq_recon_mse": 0.01,
                "params_sled": 100,
                "params_rvq": 110,
            }
        }

    return make


def _flow(fixed, naive=0.03, fresh=1.2, mean=0.55, fm=0.5):
    def make(seed, j):
        return {
            "flow": {
                "recon_fixed": fixed * (1 + j),
                "recon_naive": naive,
                "recon_fresh": fresh,
                "recon_mean": mean,
                "fm_loss": fm,
                "fm_loss_zero_velocity": 1.6,
                "edit_naive": 0.1,
                "edit_fixed": 0.05,
                "noise_std_naive": 0.9,
                "noise_std_fixed": 1.0,
            }
        }

    return make


def _edit(reg, naive=0.07, none=2.25, fresh=1.0, mean=0.5, acc=0.98):
    def make(seed, j):
        row = {"condition_accuracy": acc, "edit_none": none, "edit_fresh": fresh, "edit_mean": mean}
        for m, v in (("naive", naive), ("fixed", 0.035), ("reg", reg * (1 + j))):
            row.update({f"edit_{m}": v, f"recon_{m}": 0.01, f"noise_std_{m}": 1.0, f"noise_lag1_{m}": 0.5})
        return {"edit": row}

    return make


def judge(claim, make, jitter=0.01):
    return claim.judge({s: make(s, jitter * (i - 1)) for i, s in enumerate(claim.seeds)})


SCENARIOS = {
    "keyframe_drift": (
        {
            "keyframe no better than direct": _drift(1.0),
            "keyframe as bad as predict-mean": _drift(0.5, mean=0.5),
            "keyframe as bad as copy-last": _drift(0.6, mean=0.4, copy=0.6),
            "keyframe predicts the mean": _drift(0.3, mean=0.3),
        },
        _drift(0.2),
    ),
    "sled_energy": (
        {
            "SLED equal to RVQ": _energy(0.3),
            "SLED is copy-last": _energy(0.45, rvq=0.5, copy=0.45),
            "SLED is predict-mean": _energy(1.2, rvq=1.3, mean=1.2),
            "small gain below threshold": _energy(0.29),
        },
        _energy(0.2),
    ),
    "keyframe_drift_v2": (
        {
            "keyframe no better than direct": _drift(1.0),
            "keyframe as bad as predict-mean": _drift(0.5, mean=0.5),
            "keyframe as bad as copy-last": _drift(0.6, mean=0.4, copy=0.6),
        },
        _drift(0.2),
    ),
    "sled_energy_autoencoder": (
        {
            "SLED equal to RVQ": _energy(0.3),
            "SLED is copy-last": _energy(0.45, rvq=0.5, copy=0.45),
            "SLED is predict-mean": _energy(1.2, rvq=1.3, mean=1.2),
            "small gain below threshold": _energy(0.29),
        },
        _energy(0.2),
    ),
    "flow_inversion": (
        {
            "fixed-point equal to naive": _flow(0.03),
            "fixed-point as bad as a fresh sample": _flow(0.5, naive=0.6, fresh=0.5),
            "fixed-point is predict-mean": _flow(0.4, naive=0.9, mean=0.4),
            "small gain below threshold": _flow(0.025),
        },
        _flow(1e-6),
    ),
    "flow_editing": (
        {
            "regularised equal to naive": _edit(0.07),
            "regularised is the unchanged source": _edit(0.05, naive=0.06, none=0.05),
            "regularised is a fresh target sample": _edit(0.05, naive=0.06, fresh=0.05),
            "regularised is the target mean": _edit(0.05, naive=0.2, mean=0.05),
            "small gain below threshold": _edit(0.063),
        },
        _edit(0.03),
    ),
}


def test_generate_claims_discovered():
    for name in GEN:
        assert CLAIMS[name] is GEN[name]
    assert set(SCENARIOS) == set(GEN)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trivial_rows_never_pass(name):
    trivial, good = SCENARIOS[name]
    for why, make in trivial.items():
        assert judge(GEN[name], make).status != "passed", why
    assert judge(GEN[name], good).status == "passed"


def test_missed_control_and_wide_interval_are_inconclusive():
    assert judge(GEN["keyframe_drift"], _drift(0.2, fit=0.4)).status == "inconclusive"
    assert judge(GEN["sled_energy"], _energy(0.2, mean=0.3, copy=1.0)).status == "inconclusive"
    assert judge(GEN["sled_energy"], _energy(0.2), jitter=0.6).status == "inconclusive"
    assert judge(GEN["flow_inversion"], _flow(1e-6, fm=1.2)).status == "inconclusive"
    assert judge(GEN["flow_editing"], _edit(0.03, acc=0.6)).status == "inconclusive"
