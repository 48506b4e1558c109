import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from seqlab.bench.runner import run_grid
from seqlab.experiments.config import RunConfig
from seqlab.experiments.store import ResultStore

N_RUNS = 60

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from seqlab.bench.runner import run_grid
    from seqlab.experiments.store import ResultStore
    from seqlab.experiments.config import RunConfig

    def fake_run(cfg, checkpoint_dir=None, resume=False):
        time.sleep(0.03)
        return {"metric": "accuracy", "score": cfg.seed / 100, "payload": "x" * 2000}

    runs = [RunConfig(task="t", mixer="m", seed=s) for s in range(N_RUNS)]
    with ResultStore(sys.argv[1]) as store:
        run_grid(runs, store, workers=0, progress=False, run_fn=fake_run)
    """
).replace("N_RUNS", str(N_RUNS))


def _runs():
    return [RunConfig(task="t", mixer="m", seed=s) for s in range(N_RUNS)]


def _count(db) -> int:
    if not db.exists():
        return 0
    try:
        with ResultStore(db) as s:
            return len(s)
    except ValueError:
        return 0


def test_store_survives_sigkill_and_restart(tmp_path):
    """kill -9 three times in a row mid-grid: no row lost or duplicated, results as if uninterrupted."""
    db = tmp_path / "store.sqlite"
    script = tmp_path / "grid.py"
    script.write_text(SCRIPT)
    partial = 0
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, str(script), str(db)])
        deadline = time.time() + 60
        while time.time() < deadline and _count(db) < partial + 3:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with ResultStore(db) as s:
            now = len(s)
            assert partial + 3 <= now < N_RUNS, "each kill must land mid-grid"
            assert len({r["key"] for r in s.rows()}) == now
        partial = now
    # restart to completion: finished rows skipped, nothing duplicated or lost
    subprocess.run([sys.executable, str(script), str(db)], check=True, timeout=120)
    with ResultStore(db) as s:
        rows = s.rows()
        assert len(rows) == N_RUNS
        assert {r["key"] for r in rows} == {c.key() for c in _runs()}
        for r in rows:
            assert r["result"]["score"] == r["config"]["seed"] / 100
            assert len(r["result"]["payload"]) == 2000


def test_rerun_skips_finished_rows(tmp_path):
    calls = []

    def fake(cfg, checkpoint_dir=None, resume=False):
        calls.append(cfg.seed)
        if cfg.seed == 2:
            raise RuntimeError("boom")
        return {"metric": "accuracy", "score": 1.0}

    with ResultStore(tmp_path / "s.sqlite") as store:
        out = run_grid(_runs()[:4], store, workers=0, progress=False, run_fn=fake, log=lambda m: None)
        assert sorted(calls) == [0, 1, 2, 3] and len(out.failed) == 1 and len(store) == 3
        out = run_grid(_runs()[:4], store, workers=0, progress=False, run_fn=fake, log=lambda m: None)
        assert sorted(calls) == [0, 1, 2, 2, 3] and len(out.skipped) == 3
        assert not store.put(_runs()[0], {"score": 0.0}), "duplicate key must be refused"
        assert store.get(_runs()[0].key())["result"]["score"] == 1.0


def test_corrupted_store_names_the_file(tmp_path):
    bad = tmp_path / "bench.sqlite"
    bad.write_bytes(b"this is not sqlite" * 300)
    with pytest.raises(ValueError, match=r"bench\.sqlite is corrupted"):
        ResultStore(bad)


def test_config_key_is_canonical():
    a = RunConfig(task="mqar", mixer="lstm", task_params={"n_pairs": 4, "seq_len": 64})
    b = RunConfig(task="mqar", mixer="lstm", task_params={"seq_len": 64, "n_pairs": 4})
    assert a.key() == b.key() and a.key() != a.replace(seed=1).key()
    assert json.loads(a.canonical())["d_model"] == 64
