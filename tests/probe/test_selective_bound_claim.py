"""The unstable-arm length-gap claim (arXiv 2502.01473): criterion and a tiny run of the new params."""

import pytest

from seqlab.experiments.cell import claim_cells
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_probe import CLAIMS as PROBE_CLAIMS
from seqlab.papers.claims_probe import LENGTH_GAP_PARAMS, UNSTABLE_GAP_PARAMS
from seqlab.papers.status import STATUS
from seqlab.probe.length_gap import gap_slope, length_gap

NAME = "selective_ssm_unstable_length_gap"


def judge(make, jitter=0.002):
    c = PROBE_CLAIMS[NAME]
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def _rows(diff, first=1.0):
    return lambda j: {
        "unstable_minus_stable_slope": diff + j,
        "unstable_first_train": first,
        "mamba_unstable_gap": [0.0],
        "mamba_gap": [0.0],
        "mamba_unstable_mass": [1.0],
        "mamba_mass": [1.0],
    }


def test_claim_is_discovered_and_keeps_the_stable_params():
    c = PROBE_CLAIMS[NAME]
    assert CLAIMS[NAME] is c and claim_cells(c) and c.title in STATUS
    assert len(set(c.seeds)) >= 3 and any(b.kind == "beat" for b in c.baselines)
    assert {k: UNSTABLE_GAP_PARAMS[k] for k in LENGTH_GAP_PARAMS} == LENGTH_GAP_PARAMS


@pytest.mark.parametrize("diff", [0.0, -0.05, 0.01])
def test_trivial_rows_never_pass(diff):
    assert judge(_rows(diff)).status in ("failed", "inconclusive")


def test_the_criterion_can_pass_and_a_missed_control_is_inconclusive():
    assert judge(_rows(0.08)).status == "passed"
    assert judge(_rows(0.08, first=0.6)).status == "inconclusive"


def test_unstable_arm_tiny_run_and_defaults_unchanged():
    base = {"lengths": [3, 5], "n_train": 16, "n_test": 16, "d_model": 8, "steps": 2}
    plain = length_gap(base, 0)
    r = length_gap({**base, "unstable_a_min": 0.3, "bound_n": 4}, 0)
    assert "mamba_unstable_gap" not in plain
    for k in ("mamba_gap", "flat_gap", "attention_ape_gap"):  # the new arm leaves the old ones alone
        assert r[k] == plain[k]
    g = r["mamba_unstable_gap"]
    assert g == pytest.approx([a - b for a, b in zip(r["mamba_unstable_train"], r["mamba_unstable_test"])])
    assert r["unstable_minus_stable_slope"] == pytest.approx(gap_slope([3, 5], g) - r["mamba_slope"])
    assert all(a >= 0.3 for a in r["mamba_unstable_abscissa"]) and all(a < 0 for a in r["mamba_abscissa"])
    assert r["unstable_first_train"] == r["mamba_unstable_train"][0]
