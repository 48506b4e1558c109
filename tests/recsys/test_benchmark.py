"""benchmarks/recsys.py's throughput measurement and table (RecBole itself runs only in the benchmark)."""

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "recsys.py"


def load():
    spec = importlib.util.spec_from_file_location("bench_recsys", PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_throughput_counts_targets_and_users_and_the_table_shows_errors(cycles):
    bench = load()
    r = bench.throughput(cycles, seed=0, epochs=1)
    targets = sum(max(int(t.numel()) - 1, 0) for t in cycles.train)
    assert r["train_targets"] == targets and r["rank_users"] == cycles.num_users
    assert r["train_targets_per_cpu_s"] == pytest.approx(targets / r["train_cpu_s"])
    assert r["rank_users_per_wall_s"] == pytest.approx(cycles.num_users / r["rank_wall_s"])
    text = bench.speed_table(
        {"seqlab SASRec": r, "RecBole SASRec": {"error": "RecBole SASRec exited 1: boom"}}
    )
    assert "| seqlab SASRec |" in text and "exited 1: boom" in text
    cfg = bench.recbole_config(Path("/d"), Path("/c"), 1, 0)
    assert (
        cfg["eval_args"]["mode"] == "full" and cfg["loss_type"] == "CE" and cfg["MAX_ITEM_LIST_LENGTH"] == 50
    )
