"""bench, continual and speed write to one results store, and one report shows all three."""

from dataclasses import asdict

from seqlab.bench.speed import check_scaling, quick_config
from seqlab.bench.speed.run import record, speed_rows
from seqlab.commands.report import build_report
from seqlab.continual.protocol import run_protocol
from seqlab.continual.strategy import TrainConfig
from seqlab.experiments.config import RunConfig
from seqlab.experiments.store import ResultStore


def _speed_result():
    cfg = quick_config(lengths=(16, 64), scaling=(16, 64))

    def cell(length, ms, unreliable):
        return {
            "mixer": "s4d",
            "length": length,
            "state_growth": "constant",
            "time_ms": ms,
            "spread": 0.6 if unreliable else 0.05,
            "unreliable": unreliable,
            "reason": None,
            "runs_ms": [ms] * 3,
            "warmup_runs": 2,
            "peak_mb": 3.0,
            "status": "ok",
        }

    cells = [cell(16, 1.0, False), cell(64, 2.5, True)]
    return {
        "config": asdict(cfg),
        "memory_method": "m",
        "environment": {"load_avg_start": [1.0], "load_avg_end": [1.0]},
        "results": cells,
        "checks": {
            "linear_scaling": check_scaling(cells, cfg),
            "scan": {"speedup": 12.0, "required": 10.0, "verdict": "PASS", "pass": True},
            "fla": {"skipped": "no fla"},
            "finite": {"s4d": {"finite": True, "seconds": 0.1}},
        },
    }


def _bench_row():
    cfg = RunConfig(task="mqar", mixer="attention", d_model=32)
    res = {
        "metric": "accuracy",
        "score": 0.9,
        "id": {"accuracy": 0.9},
        "ood_lengths": [],
        "ood": [],
        "ood_score": None,
        "train_lengths": None,
        "steps_done": 10,
        "stopped_early": False,
        "final_loss": 0.1,
        "params": 1000,
        "state_floats": 64,
        "tokens_per_s": 1e4,
        "wall_time": 1.0,
        "history": [{"step": 10, "loss": 0.1, "eval": 1.0, "accuracy": 0.9}],
    }
    return cfg, res


def test_bench_continual_and_speed_share_one_store_and_report(tmp_path):
    path = tmp_path / "store.sqlite"
    with ResultStore(path) as store:
        store.put(*_bench_row())
    run_protocol(
        "split-digits",
        ["nmc"],
        ["class"],
        [0],
        TrainConfig(steps=2, batch_size=8, hidden=8),
        tmp_path / "md",
        workers=1,
        log=lambda *_: None,
        store=path,
    )
    result = _speed_result()
    n = record(result, path)
    assert n == len(speed_rows(result)) == 5  # 2 cells, 1 scaling check, scan, 1 finite
    assert record(result, path) == n  # re-measured cells replace their rows
    with ResultStore(path) as store:
        kinds = [r["kind"] for r in store.rows()]
        assert sorted(set(kinds)) == ["bench", "continual", "speed"]
        assert kinds.count("speed") == n and kinds.count("continual") == 1
        assert all(r["provenance"]["torch"] for r in store.rows())
        page = build_report(store, tmp_path / "report").read_text()
    for title in ("Provenance", "Results", "Continual learning", "Mixer speed (device cpu", "Speed checks"):
        assert title in page, title
    assert "split-digits" in page and "~2.5 / 3 (spread 0.60)" in page
    assert ">unreliable<" in page  # the scaling check rests on the flagged L=64 cell
    assert "no speed table yet" not in page  # the JSON hint gives way to the store's rows
