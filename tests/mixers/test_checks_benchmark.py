"""The checks benchmark runs at a tiny size and writes its JSON (no timing assertion)."""

import importlib.util
import json
from pathlib import Path


def test_mixer_checks_benchmark_smoke(tmp_path):
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "mixer_checks.py"
    spec = importlib.util.spec_from_file_location("mixer_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "checks.json"
    rows = module.main(["--mixers", "s4d,attention", "--number", "3", "--repeats", "1", "--out", str(out)])
    data = json.loads(out.read_text())
    assert [r["mixer"] for r in data["rows"]] == ["s4d", "attention"] == [r["mixer"] for r in rows]
    assert all(r["checks_us"] > 0 and r["step_us"] > 0 for r in rows)
