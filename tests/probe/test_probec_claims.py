"""Criterion tests of the claims: trivial rows never pass, good rows can, a missed control is
inconclusive."""

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_probec import CLAIMS as MINE


def _rows(count=(0.9, 0.0), guess=(0.375, 0.1), first=(0.9, 0.1), last=(1.0, 0.9)):
    def make(seed, j):
        lengths = [4, 8, 16, 32, 64]
        acc = [count[0] + j, 0.5, 0.3, 0.1, count[1]]
        half = [guess[0], 0.27, 0.2, 0.14, guess[1]]
        cf = [first[0], first[0], first[1] + j, first[1], first[1]]
        cl = [last[0], last[0], last[1] + j, last[1], last[1]]
        return {
            "glasses": {
                "lengths": lengths,
                "count_accuracy": acc,
                "count_guess_half": half,
                "count_drop": acc[0] - acc[-1],
                "count_guess_drop": half[0] - half[-1],
                "copy_first": cf,
                "copy_last": cl,
                "copy_last_minus_first": sum(cl[i] - cf[i] for i in (2, 3, 4)) / 3,
                "collapse": [{"n": 8, "rel": 0.01, "equal_bf16": False}],
            }
        }

    return make


def judge(name, make, jitter=0.01):
    claim = MINE[name]
    return claim.judge({s: make(s, jitter * (i - 1)) for i, s in enumerate(claim.seeds)})


def test_claims_are_discovered():
    assert set(MINE) == {"glasses_counting_length", "glasses_copy_last_vs_first", "lidar_layer_pick"}
    assert all(CLAIMS[n] is c for n, c in MINE.items())


def test_counting_claim():
    assert judge("glasses_counting_length", _rows()).status == "passed"
    # no drop at all, or only the drop a constant guess of L/2 shows, or a model that never counts
    assert judge("glasses_counting_length", _rows(count=(0.6, 0.6))).status != "passed"
    assert judge("glasses_counting_length", _rows(count=(0.375, 0.1))).status != "passed"
    assert judge("glasses_counting_length", _rows(count=(0.3, 0.0))).status == "inconclusive"


def test_copying_claim():
    assert judge("glasses_copy_last_vs_first", _rows()).status == "passed"
    assert judge("glasses_copy_last_vs_first", _rows(first=(0.9, 0.9))).status != "passed"
    assert judge("glasses_copy_last_vs_first", _rows(first=(0.1, 0.1), last=(0.1, 0.1))).status != "passed"
    assert judge("glasses_copy_last_vs_first", _rows(last=(0.5, 0.9))).status == "inconclusive"
    assert "copy first" in MINE["glasses_copy_last_vs_first"].details({0: _rows()(0, 0.0)})


def _view(gain, random_gain=0.01, best=0.8):
    def make(seed, j):
        return {
            "view": {
                "lidar_gain": gain + j,
                "dime_gain": 0.0,
                "random_layer_gain": random_gain,
                "best_accuracy": best,
                "last_accuracy": 0.7,
                "lidar_layer": 12,
                "dime_layer": 3,
            }
        }

    return make


def test_lidar_claim():
    assert judge("lidar_layer_pick", _view(0.08)).status == "passed"
    assert judge("lidar_layer_pick", _view(0.0)).status != "passed"  # the last layer itself
    assert (
        judge("lidar_layer_pick", _view(0.05, random_gain=0.05)).status != "passed"
    )  # no better than random
    assert judge("lidar_layer_pick", _view(0.08, best=0.6)).status == "inconclusive"
    assert "LiDAR layer 12" in MINE["lidar_layer_pick"].details({0: _view(0.08)(0, 0.0)})
