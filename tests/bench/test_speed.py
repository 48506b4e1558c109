import json
import re
from pathlib import Path

import pytest

from seqlab.bench import speed
from seqlab.cli import main


def test_quick_run_writes_the_expected_json(tmp_path):
    out = tmp_path / "speed.json"
    rc = main(["speed", "--quick", "--mixers", "linear_attention,mamba2", "--out", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert set(res) >= {"config", "memory_method", "environment", "results", "checks"}
    assert res["config"]["lengths"] == [16, 64]
    cells = {(r["mixer"], r["length"]) for r in res["results"]}
    assert cells == {(m, n) for m in ("linear_attention", "mamba2") for n in (16, 64)}
    for r in res["results"]:
        assert r["status"] == "ok" and r["time_ms"] > 0 and r["recurrent"] is True
    checks = res["checks"]
    assert set(checks) == {"linear_scaling", "scan", "fla", "finite"}
    assert set(checks["linear_scaling"]) == {"linear_attention", "mamba2"}
    assert checks["linear_scaling"]["mamba2"]["bound"] == 6.0
    assert checks["scan"]["max_abs_diff"] < 1e-3 and checks["scan"]["speedup"] > 0
    assert checks["finite"] == {
        m: {"finite": True, "seconds": checks["finite"][m]["seconds"]} for m in ("linear_attention", "mamba2")
    }
    fla = checks["fla"]
    if "skipped" not in fla:
        assert fla["lengths"]["128"]["same_output"] is True


def test_missing_fla_is_reported_not_fatal(monkeypatch):
    monkeypatch.setattr(speed, "load_fla_naive", lambda: None)
    res = speed.check_fla(speed.quick_config())
    assert "pip install seqlab[bench]" in res["skipped"]


def test_quadratic_memory_growth_is_skipped_above_budget():
    assert speed._extrapolate([(100, 1.0), (200, 4.0)], 800)[1] == pytest.approx(64.0)
    assert speed._extrapolate([(100, 1.0)], 800) is None


def test_bad_options_raise():
    with pytest.raises(KeyError, match="valid names"):
        speed.run_speed(speed.quick_config(mixers=("no-such-mixer",)))
    with pytest.raises(ValueError, match="positive ints"):
        speed._ints("16,-3")


def test_demo_runs_modes_and_reports_agreement(capsys):
    assert main(["demo", "--mixers", "retention,mamba2", "--length", "13"]) == 0
    out = capsys.readouterr().out
    assert "retention" in out and "mamba2" in out and "modes agree" in out
    assert main(["demo", "--mixers", "retention", "--tol", "0"]) == 2  # a ValueError -> exit code 2


def test_docs_example_runs():
    text = (Path(__file__).parents[2] / "docs" / "speed.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/speed.md", "exec"), {})


def test_unknown_or_missing_device_is_a_clear_error(monkeypatch):
    with pytest.raises(ValueError, match="cpu' or 'cuda"):
        speed.run_speed(speed.quick_config(device="tpu"))
    monkeypatch.setattr(speed.torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA device"):
        speed.run_speed(speed.quick_config(device="cuda"))
