"""The SmolLM2 prompt-waywardness claim: discovery, its metric by hand, and its criterion."""

import pytest

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_decode_wayward import CLAIMS as WAY
from seqlab.papers.claims_decode_wayward import gap, wayward_acc

CLAIM = WAY["prompt_waywardness_smollm2"]


def _row(best=0.8, way=(0.79, 0.79), f1=(1.0, 1.0), none=0.67, target=0.6, rand=0.6, majority=0.52):
    r = {
        "acc_none": none,
        "acc_hand": 0.66,
        "acc_random_tokens": rand,
        "acc_continuous": best,
        "acc_continuous_projected": 0.6,
        "acc_majority": majority,
        "chance": 0.5,
        "n_targets": len(way),
    }
    for j, (a, f) in enumerate(zip(way, f1, strict=True)):
        r.update(
            {
                f"acc_target_{j}": target,
                f"acc_wayward_{j}": a,
                f"acc_wayward_projected_{j}": 0.6,
                f"f1_wayward_{j}": f,
                f"f1_continuous_{j}": 0.0,
            }
        )
    return r


def judge(**kw):
    jitter = kw.pop("jitter", 0.004)
    rows = {}
    for i, s in enumerate(CLAIM.seeds):
        row = _row(**kw)
        row["acc_continuous"] += i * jitter
        rows[s] = {name: row for name in CLAIM.make_runs(s)}
    return CLAIM.judge(rows)


def test_discovered_with_its_decode_cell():
    assert CLAIMS["prompt_waywardness_smollm2"] is CLAIM
    cell = CLAIM.make_runs(0)["way"]
    assert cell.kind == "decode" and cell.params["gamma"] > 0


def test_metric_by_hand():
    r = {"way": _row(best=0.8, way=(0.75, 0.7), f1=(1.0, 5 / 6))}
    assert wayward_acc(r, 0) == 0.75 and wayward_acc(r, 1) == 0.5  # target 1 missed: chance
    assert gap(r) == pytest.approx(0.8 - (0.75 + 0.5) / 2)


@pytest.mark.parametrize(
    "label,kw",
    [
        ("wayward prompts no better than the target texts", dict(way=(0.6, 0.6))),
        ("wayward prompts at the no-prompt level", dict(way=(0.67, 0.67))),
        ("projections miss the targets", dict(f1=(5 / 6, 0.5))),
        ("wayward prompts at chance", dict(way=(0.5, 0.5))),
        ("a gap above the threshold", dict(way=(0.72, 0.72))),
    ],
)
def test_trivial_rows_never_pass(label, kw):
    assert judge(**kw).status in ("failed", "inconclusive"), label


def test_the_criterion_can_pass_and_a_missed_control_is_inconclusive():
    r = judge()
    assert r.status == "passed" and r.seeds == 3 and r.low <= r.mean <= r.high, r.figure
    # the tuned prompt no better than no prompt: the control misses
    assert judge(none=0.79, way=(0.79, 0.79)).status == "inconclusive"
    assert judge(way=(0.7, 0.7), jitter=0.0).status == "failed"
