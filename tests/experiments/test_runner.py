import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from seqlab.experiments.config import RunConfig
from seqlab.experiments.runner import run_cells, validate_workers
from seqlab.experiments.store import ResultStore, StoreError

SRC = str(Path(__file__).resolve().parents[2] / "src")

# A sweep in its own process. Cells: RunConfig(task="t", mixer="m", seed=i) for i < N. The run
# function appends "<seed> <pid>" to LOG and sleeps SLEEP seconds.
SWEEP = textwrap.dedent(
    """
    import os, sys, time
    from seqlab.experiments.config import RunConfig
    from seqlab.experiments.runner import run_cells
    from seqlab.experiments.store import ResultStore

    DB, LOG = sys.argv[1], sys.argv[2]
    N, WORKERS, SLEEP = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])

    def fake_run(cfg, checkpoint_dir=None, resume=False):
        with open(LOG, "a") as f:
            f.write(f"{cfg.seed} {os.getpid()}\\n")
        os.makedirs(checkpoint_dir, exist_ok=True)  # only the claim holder may touch this folder
        mark = os.path.join(checkpoint_dir, "owner")
        if os.path.exists(mark):
            raise RuntimeError(f"checkpoint folder {checkpoint_dir} is in use by {open(mark).read()}")
        with open(mark, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(SLEEP)
        if open(mark).read() != str(os.getpid()):
            raise RuntimeError("another sweep wrote into this checkpoint folder")
        return {"metric": "accuracy", "score": cfg.seed / 100}

    if __name__ == "__main__":
        cells = [RunConfig(task="t", mixer="m", seed=s) for s in range(N)]
        with ResultStore(DB) as store:
            out = run_cells(cells, store, fake_run, workers=WORKERS, progress=False, poll=0.05)
        print("done", len(out.done), len(out.skipped), len(out.failed), flush=True)
    """
)


def _env():
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _start(tmp_path, n, workers, sleep, tag="a"):
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP)
    log = tmp_path / f"log-{tag}.txt"
    log.touch()
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "s.sqlite"), str(log), str(n), str(workers), str(sleep)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, log


def _log_pids(log: Path) -> set[int]:
    return {int(line.split()[1]) for line in log.read_text().splitlines() if line.strip()}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its table entry waits to be reaped


def _wait_for(cond, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def _fake(calls):
    def run(cfg, checkpoint_dir=None, resume=False):
        calls.append(cfg.seed)
        return {"metric": "accuracy", "score": float(cfg.seed)}

    return run


def test_workers_must_be_non_negative(tmp_path):
    for bad in (-3, 1.5, True, "2"):
        with pytest.raises(ValueError, match="workers must be an int >= 0"):
            validate_workers(bad)
    with ResultStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(ValueError, match="got -3"):
            run_cells([RunConfig(task="t", mixer="m")], store, _fake([]), workers=-3, progress=False)


def test_deleting_the_store_mid_sweep_stops_the_sweep(tmp_path):
    db = tmp_path / "s.sqlite"
    calls = []

    def run(cfg, checkpoint_dir=None, resume=False):
        calls.append(cfg.seed)
        if cfg.seed == 2:
            os.unlink(db)
        return {"score": 1.0}

    cells = [RunConfig(task="t", mixer="m", seed=s) for s in range(6)]
    with ResultStore(db) as store:
        with pytest.raises(StoreError, match=r"s\.sqlite was deleted while in use"):
            run_cells(cells, store, run, workers=0, progress=False)
    assert calls == [0, 1, 2], "nothing may train after the store is gone"
    assert not db.exists()


def test_parent_sigkill_takes_the_workers_with_it(tmp_path):
    proc, log = _start(tmp_path, n=8, workers=2, sleep=120)
    assert _wait_for(lambda: len(_log_pids(log)) == 2), proc.stderr.read() if proc.poll() is not None else ""
    workers = _log_pids(log)
    assert all(_alive(p) for p in workers)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _wait_for(lambda: not any(_alive(p) for p in workers), timeout=10), "workers outlived the parent"


def test_parent_sigterm_terminates_workers_and_exits_non_zero(tmp_path):
    proc, log = _start(tmp_path, n=8, workers=2, sleep=120)
    assert _wait_for(lambda: len(_log_pids(log)) == 2)
    workers = _log_pids(log)
    os.kill(proc.pid, signal.SIGTERM)
    rc = proc.wait(timeout=30)
    out = proc.stdout.read()
    assert rc != 0 and "done" not in out
    assert _wait_for(lambda: not any(_alive(p) for p in workers), timeout=10)
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert len(store) == 0 and store.claims() == [], "claims of a terminated sweep are released"


def test_two_sweeps_on_one_store_split_the_work(tmp_path):
    n = 12
    a, log_a = _start(tmp_path, n=n, workers=1, sleep=0.3, tag="a")
    b, log_b = _start(tmp_path, n=n, workers=0, sleep=0.3, tag="b")
    outs = [p.communicate(timeout=120) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    assert all(out.strip().endswith(" 0") for out, _ in outs), f"no cell may fail: {outs}"
    seeds = [int(line.split()[0]) for log in (log_a, log_b) for line in log.read_text().splitlines()]
    assert sorted(seeds) == list(range(n)), "every cell trained exactly once"
    assert log_a.read_text() and log_b.read_text(), "both sweeps took a share"
    with ResultStore(tmp_path / "s.sqlite") as store:
        rows = store.rows()
        assert len(rows) == n and all(r["result"]["score"] == r["config"]["seed"] / 100 for r in rows)
        assert store.claims() == []


def test_a_claim_of_a_killed_sweep_is_taken_over(tmp_path):
    proc, log = _start(tmp_path, n=3, workers=0, sleep=120)
    assert _wait_for(lambda: len(_log_pids(log)) == 1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    calls = []
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert len(store.claims()) == 1  # left behind by kill -9
        cells = [RunConfig(task="t", mixer="m", seed=s) for s in range(3)]
        out = run_cells(cells, store, _fake(calls), workers=0, progress=False)
        assert sorted(calls) == [0, 1, 2] and len(out.done) == 3 and store.claims() == []


def test_rerun_stale_replaces_only_stale_rows(tmp_path, monkeypatch):
    from seqlab.experiments import store as store_mod

    db = tmp_path / "s.sqlite"
    cells = [RunConfig(task="t", mixer="m", seed=s) for s in range(3)]
    monkeypatch.setattr(store_mod, "git_commit", lambda: "old")
    with ResultStore(db) as store:
        run_cells(cells[:2], store, _fake([]), workers=0, progress=False)
    monkeypatch.setattr(store_mod, "git_commit", lambda: "new")
    calls = []
    with ResultStore(db) as store:
        out = run_cells(cells, store, _fake(calls), workers=0, progress=False)
        assert calls == [2] and len(out.skipped) == 2 and store.stale_keys() == {c.key() for c in cells[:2]}
        out = run_cells(cells, store, _fake(calls), workers=0, progress=False, rerun_stale=True)
        assert sorted(calls[1:]) == [0, 1] and len(out.done) == 2 and store.stale_keys() == set()
        assert len(store) == 3
