"""Criterion test of ls4_generation: trivial rows never pass, a good row can, a missed control is
inconclusive."""

from __future__ import annotations

import pytest

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_timeseries import CLAIMS as TS


def _rows(ls4, gru=0.3, ar=0.45, shuffle=0.5, recon=0.1):
    def make(seed, j):
        row = {"variance": 1.0}
        for m, d in (("ls4", ls4 + j), ("gru_vae", gru), ("ar", ar), ("shuffle", shuffle)):
            row.update({f"{m}_disc": d, f"{m}_acf": 0.1, f"{m}_marginal": 0.1})
        for m in ("ls4", "gru_vae"):
            row.update({f"{m}_recon": recon, f"{m}_interp": 0.2, f"{m}_extrap": 0.5, f"{m}_cpu_s": 1.0})
        return {"gen": row}

    return make


def judge(make, jitter=0.01):
    claim = TS["ls4_generation"]
    return claim.judge({s: make(s, jitter * (i - 1)) for i, s in enumerate(claim.seeds)})


def test_discovered():
    assert CLAIMS["ls4_generation"] is TS["ls4_generation"]


@pytest.mark.parametrize(
    "why, make",
    [
        ("LS4 equal to the GRU-VAE", _rows(0.3)),
        ("gain below the threshold", _rows(0.27)),
        ("LS4 no better than least-squares AR", _rows(0.1, ar=0.1)),
        ("LS4 no better than shuffled values", _rows(0.1, shuffle=0.1)),
    ],
)
def test_trivial_rows_never_pass(why, make):
    assert judge(make).status != "passed", why


def test_good_rows_pass_and_missed_control_or_noise_is_inconclusive():
    assert judge(_rows(0.1)).status == "passed"
    assert judge(_rows(0.1, recon=0.6)).status == "inconclusive"
    assert judge(_rows(0.1), jitter=0.3).status == "inconclusive"
