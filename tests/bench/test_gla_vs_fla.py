"""benchmarks/gla_vs_fla.py on CPU: every seqlab row computes the float64 reference's function."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "gla_vs_fla.py"


def _load():
    spec = importlib.util.spec_from_file_location("gla_vs_fla", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_smoke_run_writes_rows_that_match_the_reference(tmp_path):
    out = tmp_path / "g.json"
    args = ["--device", "cpu", "--batch", "1", "--length", "70", "--heads", "2", "--d-head", "8",
            "--warmup", "0", "--repeats", "1", "--no-compile", "--out", str(out)]
    assert _load().main(args) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {r["gate"] for r in rows} == {"scalar", "per_dim", "retention"}
    # the Triton rows run through Triton's interpreter on CPU (tests/conftest.py switches it on)
    assert {r["gate"] for r in rows if "triton" in r["name"]} == {"scalar", "per_dim", "retention"}
    for r in rows:
        assert "error" not in r, r
        if r["name"].startswith("seqlab") or "naive" in r["name"]:
            assert r["rel_err"] < (1e-5 if "fp32" in r["name"] else 3e-2), r
        if "SDPA" in r["name"]:  # softmax attention is a different function: far from the reference
            assert r["rel_err"] > 0.1


def test_bad_arguments_exit_with_a_message():
    module = _load()
    with pytest.raises(SystemExit):
        module.main(["--device", "cpu", "--gates", "nonsense"])
    with pytest.raises(SystemExit):
        module.main(["--device", "cpu", "--length", "0"])
