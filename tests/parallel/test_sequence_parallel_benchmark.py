"""benchmarks/sequence_parallel.py: a small run writes the measured bytes, in the analytic ratios."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "sequence_parallel.py"


def _load():
    spec = importlib.util.spec_from_file_location("sequence_parallel", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_run_writes_bytes_and_time_ratios(tmp_path):
    out = tmp_path / "sp.json"
    args = ["--worlds", "2", "--batch", "1", "--time", "4", "--space", "4", "--d-model", "8"]
    args += ["--heads", "2", "--layers", "1", "--repeats", "1", "--out", str(out)]
    _load().main(args)
    result = json.loads(out.read_text())
    rows = result["worlds"]["2"]
    local = result["activation_bytes"] / 2  # one rank's shard
    assert rows["dsp"]["fwd_bytes_per_layer"] == 2 * local / 2  # 2 all-to-alls moving (P-1)/P
    assert rows["ulysses"]["bytes_ratio_to_dsp"] == 2.0
    assert rows["ring"]["bytes_ratio_to_dsp"] == 2.0  # = P
    assert all(r["ms"] > 0 and r["time_ratio_to_dsp"] > 0 for r in rows.values())
