import pytest

from seqlab.experiments.claim import Baseline, Claim, ClaimResult, Control, claims_html, claims_markdown
from seqlab.experiments.config import RunConfig


def _runs(seed):
    kw = dict(task="mqar", task_params={"vocab_size": 128, "seq_len": 64, "n_pairs": 4}, seed=seed, steps=5)
    return {"a": RunConfig(mixer="attention", **kw), "b": RunConfig(mixer="lstm", **kw)}


def _claim(**over):
    kw = dict(
        name="toy",
        title="Toy",
        statement="a beats b",
        effect="a 0.99 vs b 0.3",
        metric="accuracy gap a - b",
        direction="higher",
        threshold=0.2,
        null=0.0,
        control=Control("a in distribution", 0.9, lambda r: r["a"]["score"]),
        baselines=(Baseline("chance gap", value=0.0),),
        seeds=(0, 1, 2),
        seconds=10.0,
        make_runs=_runs,
        measure=lambda r: r["a"]["score"] - r["b"]["score"],
    )
    kw.update(over)
    return Claim(**kw)


def _res(a, b):
    return {"a": {"score": a, "wall_time": 1.0}, "b": {"score": b, "wall_time": 2.0}}


class Store(dict):
    def put(self, cfg, result):
        self[cfg.key()] = {"result": result}


def test_fewer_than_three_seeds_or_no_control_cannot_be_built():
    with pytest.raises(ValueError, match="at least 3 distinct seeds"):
        _claim(seeds=(0, 1))
    with pytest.raises(ValueError, match="at least 3 distinct seeds"):
        _claim(seeds=(0, 0, 1))
    with pytest.raises(ValueError, match="positive control"):
        _claim(control=None)
    with pytest.raises(ValueError, match="trivial baseline"):
        _claim(baselines=(Baseline("opt", value=1.0, kind="optimum"),))
    with pytest.raises(ValueError, match="side"):
        _claim(threshold=-0.1)
    with pytest.raises(ValueError, match="direction"):
        _claim(direction="up")
    with pytest.raises(ValueError, match="exactly one"):
        Baseline("x")


def test_not_run_until_every_seed_is_stored_then_passed():
    c = _claim()
    store = Store()
    assert c.evaluate(store).status == "not run"
    runs = c.runs_by_seed()
    for seed in (0, 1):
        store.put(runs[seed]["a"], _res(0.99, 0.3)["a"])
        store.put(runs[seed]["b"], _res(0.99, 0.3)["b"])
    r = c.evaluate(store)
    assert r.status == "not run" and r.figure == "4/6 runs stored"
    store.put(runs[2]["a"], _res(0.98, 0.3)["a"])
    store.put(runs[2]["b"], _res(0.98, 0.32)["b"])
    r = c.evaluate(store)
    assert r.status == "passed" and r.seeds == 3 and r.seconds == pytest.approx(9.0)
    assert r.low < r.mean < r.high and r.low > 0.2


def test_control_missing_target_is_inconclusive_even_with_a_big_effect():
    c = _claim()
    r = c.judge({s: _res(0.8, 0.1) for s in range(3)})
    assert r.status == "inconclusive" and "0.800" in r.control


def test_wide_interval_is_inconclusive_not_passed_or_failed():
    c = _claim()
    # mean gap 0.3 >= 0.2, but seeds disagree: interval spans 0
    r = c.judge({0: _res(0.99, 0.98), 1: _res(0.99, 0.3), 2: _res(0.99, 0.1)})
    assert r.mean >= 0.2 and r.low < 0.0 and r.status == "inconclusive"


def test_interval_below_threshold_fails_and_mean_short_of_threshold_never_passes():
    c = _claim()
    assert c.judge({s: _res(0.99, 0.95 - 0.01 * s) for s in range(3)}).status == "failed"
    # interval excludes 0 but the mean (0.15) misses 0.2 and the interval reaches above 0.2
    r = c.judge({0: _res(0.99, 0.74), 1: _res(0.99, 0.89), 2: _res(0.99, 0.92)})
    assert r.status == "inconclusive"


def test_lower_is_better_with_beat_and_optimum_baselines():
    c = _claim(
        metric="mse of a",
        direction="lower",
        threshold=0.5,
        null=1.0,
        measure=lambda r: r["a"]["mse"],
        control=Control("a fits", 0.9, lambda r: r["a"]["mse"], direction="lower"),
        baselines=(
            Baseline("predict-zero", measure=lambda r: r["a"]["zero"]),
            Baseline("least squares", measure=lambda r: r["a"]["ls"], kind="optimum"),
        ),
        allowed_gap=0.1,
    )

    def res(mse, zero=1.0, ls=0.05):
        return {"a": {"mse": mse, "zero": zero, "ls": ls}, "b": {}}

    assert c.judge({s: res(0.1 + 0.01 * s) for s in range(3)}).status == "passed"
    # mean below threshold but too far from the optimum: 0.3 > 0.05 + 0.1
    assert c.judge({s: res(0.3 + 0.01 * s) for s in range(3)}).status == "failed"
    # a model that predicts zero ties the baseline: never passes
    assert c.judge({s: res(0.4, zero=0.4) for s in range(3)}).status != "passed"
    assert "least squares" in c.criterion


def test_result_serialises_and_renders_escaped_html():
    c = _claim()
    r = c.judge({s: _res(0.99, 0.3 + 0.01 * s) for s in range(3)})
    d = r.as_dict()
    assert d["status"] == "passed" and len(d["per_seed"]) == 3
    nr = ClaimResult("not run", None, None, None, 0, None, "0/6 runs stored", "", name="<x>")
    page = claims_html({"toy": r, "<x>": nr})
    assert "&lt;x&gt;" in page and "passed" in page and "#1a7f37" in page
    md = claims_markdown({"toy": r, "<x>": nr})
    assert md.count("\n") == 3 and "**passed**" in md and "| 3 |" in md
