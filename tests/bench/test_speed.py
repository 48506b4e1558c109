import json
import re
import runpy
from pathlib import Path

import pytest
from rich.console import Console

from seqlab.bench import speed
from seqlab.bench.speed import table as speed_table
from seqlab.bench.speed.display import markdown, print_result
from seqlab.cli import main
from seqlab.experiments.store import ResultStore

ROOT = Path(__file__).parents[2]
VERDICTS = {"PASS", "FAIL", "unreliable"}


def _cell(mixer, length, ms, unreliable=False, growth="constant"):
    return {
        "mixer": mixer,
        "length": length,
        "state_growth": growth,
        "time_ms": ms,
        "spread": 0.5 if unreliable else 0.05,
        "unreliable": unreliable,
        "reason": "spread" if unreliable else None,
        "runs_ms": [ms] * 3,
        "warmup_runs": 2,
        "peak_mb": 1.0,
        "status": "ok",
    }


def test_quick_run_writes_the_expected_json(tmp_path):
    out = tmp_path / "speed.json"
    rc = main(["speed", "--quick", "--mixers", "linear_attention,mamba2", "--out", str(out), "--no-store"])
    assert rc == 0
    res = json.loads(out.read_text())
    assert set(res) >= {"config", "memory_method", "environment", "results", "checks"}
    assert res["config"]["lengths"] == [16, 64]
    cells = {(r["mixer"], r["length"]) for r in res["results"]}
    assert cells == {(m, n) for m in ("linear_attention", "mamba2") for n in (16, 64)}
    for r in res["results"]:
        assert r["status"] == "ok" and r["time_ms"] > 0 and r["state_growth"] == "constant"
        assert len(r["runs_ms"]) >= 3 and r["warmup_runs"] >= 1
        assert r["time_ms"] == pytest.approx(sorted(r["runs_ms"])[len(r["runs_ms"]) // 2])
        assert r["unreliable"] == (r["spread"] > res["config"]["max_spread"])
    checks = res["checks"]
    assert set(checks) == {"linear_scaling", "scan", "fla", "finite"}
    assert set(checks["linear_scaling"]) == {"linear_attention", "mamba2"}
    for name, c in checks["linear_scaling"].items():
        assert c["bound"] == 6.0 and c["verdict"] in VERDICTS
        flagged = any(r["unreliable"] for r in res["results"] if r["mixer"] == name)
        assert (c["verdict"] == "unreliable") == flagged
    assert checks["scan"]["max_abs_diff"] < 1e-3 and checks["scan"]["speedup"] > 0
    assert checks["scan"]["verdict"] in VERDICTS
    assert checks["finite"] == {
        m: {"finite": True, "seconds": checks["finite"][m]["seconds"]} for m in ("linear_attention", "mamba2")
    }
    fla = checks["fla"]
    if "skipped" not in fla:
        assert fla["lengths"]["128"]["same_output"] is True


def test_a_check_on_a_flagged_cell_says_unreliable_not_pass_or_fail():
    cfg = speed.quick_config(scaling=(16, 64))
    rows = [_cell("a", 16, 1.0), _cell("a", 64, 2.0), _cell("b", 16, 1.0), _cell("b", 64, 2.0, True)]
    rows += [_cell("c", 16, 1.0), _cell("c", 64, 100.0), _cell("d", 16, 1.0, growth="linear")]
    rows.append(_cell("e", 16, 1.0, growth="window") | {"time_ms": None, "status": "failed"})
    out = speed.check_scaling(rows, cfg)
    assert out["a"]["verdict"] == "PASS" and out["a"]["ratio"] == 2.0
    assert out["b"]["verdict"] == "unreliable" and out["b"]["pass"] is True
    assert out["c"]["verdict"] == "FAIL"
    assert "d" not in out  # linear state growth: time is not required to scale linearly
    assert out["e"]["verdict"] == "n/a"


def test_state_growth_is_read_from_the_class_or_the_built_mixer(monkeypatch):
    from seqlab.registry import get

    cls = get("mixer", "mamba2").obj
    assert speed.state_growth("mamba2") == "constant"
    monkeypatch.setattr(cls, "state_growth", "window")
    assert speed.state_growth("mamba2") == "window"
    mixer = speed_table.build("mamba2", 32, 0)
    mixer.state_growth = "linear"  # an instance attribute (config-dependent) wins over the class
    assert speed.state_growth("mamba2", mixer) == "linear"
    assert speed.state_growth("attention") == "linear"
    assert speed.state_growth("samba") == "window"


def test_tables_mark_unreliable_cells():
    cells = [_cell("a", 16, 1.0), _cell("a", 64, 2.0, True)]
    res = {
        "config": {
            **vars(speed.quick_config(lengths=(16, 64))),
            "lengths": [16, 64],
            "scaling": [16, 64],
        },
        "memory_method": "m",
        "environment": {"load_avg_start": [1.0], "load_avg_end": [2.0], "torch": "x", "cpu_count": 2},
        "results": cells,
        "checks": {
            "linear_scaling": speed.check_scaling(
                [_cell("a", 16, 1.0), _cell("a", 64, 2.0, True)], speed.quick_config()
            ),
            "scan": {
                "length": 256,
                "sequential_ms": 10.0,
                "chunked_ms": 1.0,
                "speedup": 10.0,
                "required": 10.0,
                "verdict": "PASS",
                "max_abs_diff": 0.0,
            },
            "fla": {"skipped": speed.FLA_HINT},
            "finite": {"a": {"finite": True, "seconds": 0.1}},
        },
    }
    md = markdown(res)
    assert "| a | constant | 1.0 / 1 | ~2.0 / 1 (spread 0.50) |" in md
    assert "| (a) scaling a | 2.0 (<= 6) | unreliable |" in md
    console = Console(width=200, record=True)
    print_result(res, console)
    text = console.export_text()
    assert "unreliable" in text and "a@64" in text and "pip install seqlab[bench]" in text


def test_missing_fla_is_reported_not_fatal(monkeypatch):
    monkeypatch.setattr(speed.checks, "load_fla_naive", lambda: None)
    res = speed.check_fla(speed.quick_config())
    assert "pip install seqlab[bench]" in res["skipped"]


def test_quadratic_memory_growth_is_skipped_above_budget():
    assert speed.extrapolate([(100, 1.0), (200, 4.0)], 800)[1] == pytest.approx(64.0)
    assert speed.extrapolate([(100, 1.0)], 800) is None
    assert speed_table.extrapolate is speed.extrapolate


def test_bad_options_raise():
    with pytest.raises(KeyError, match="valid names"):
        speed.run_speed(speed.quick_config(mixers=("no-such-mixer",)))
    with pytest.raises(ValueError, match="positive ints"):
        speed.config.__dict__["_ints"]("16,-3")
    with pytest.raises(ValueError, match="repeats"):
        speed.SpeedConfig(repeats=5, max_repeats=2)
    with pytest.raises(ValueError, match="max_spread"):
        speed.SpeedConfig(max_spread=0)
    assert main(["speed", "--quick", "--repeats", "0", "--no-store"]) == 2


def test_demo_runs_modes_and_reports_agreement(capsys):
    assert main(["demo", "--mixers", "retention,mamba2", "--length", "13"]) == 0
    out = capsys.readouterr().out
    assert "retention" in out and "mamba2" in out and "modes agree" in out
    assert main(["demo", "--mixers", "retention", "--tol", "0"]) == 2  # a ValueError -> exit code 2


def test_docs_example_runs():
    text = (ROOT / "docs" / "speed.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/speed.md", "exec"), {})


def test_unknown_or_missing_device_is_a_clear_error(monkeypatch):
    with pytest.raises(ValueError, match="cpu' or 'cuda"):
        speed.run_speed(speed.quick_config(device="tpu"))
    monkeypatch.setattr(speed.run.torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA device"):
        speed.run_speed(speed.quick_config(device="cuda"))


def test_benchmark_script_writes_table_and_json(tmp_path):
    mod = runpy.run_path(str(ROOT / "benchmarks" / "speed.py"))
    out = tmp_path / "results" / "speed.json"
    store = tmp_path / "store.sqlite"
    assert mod["main"](["--quick", "--mixers", "s4d", "--out", str(out), "--store", str(store)]) == 0
    res = json.loads(out.read_text())
    assert [r["mixer"] for r in res["results"]] == ["s4d", "s4d"]
    with ResultStore(store) as st:
        rows = st.rows(kind="speed")
    cells = {
        (r["config"]["mixer"], r["config"]["length"]): r["result"]
        for r in rows
        if r["config"]["what"] == "cell"
    }
    assert cells.keys() == {("s4d", 16), ("s4d", 64)} and cells["s4d", 16]["time_ms"] > 0
    md = out.with_suffix(".md").read_text()
    assert "| s4d |" in md and "(b) chunked scan" in md
