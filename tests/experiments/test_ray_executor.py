"""The Ray executor: cells as Ray tasks on a local Ray (2 CPUs, loopback); the driver writes the store."""

import os
import signal
import socket
import sys
import textwrap
import threading
import time

import pytest
import ray  # the [ray] extra, installed by the README's test command

from seqlab import cli
from seqlab.experiments.config import RunConfig
from seqlab.experiments.ray_executor import RayCells, RayUnavailable, split_address
from seqlab.experiments.runner import Terminated, run_cells
from seqlab.experiments.store import ResultStore


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield
    ray.shutdown()


def _cells(n):
    return [RunConfig(task="t", mixer="m", seed=s) for s in range(n)]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cells_run_as_ray_tasks_and_the_driver_stores_them(tmp_path):
    driver = os.getpid()

    def fake(cfg, checkpoint_dir=None, resume=False):
        return {"metric": "accuracy", "score": cfg.seed / 10, "pid": os.getpid()}

    with ResultStore(tmp_path / "s.sqlite") as store:
        ex = RayCells(max_retries=0)
        assert ex.slots == 2 and not ex.owned  # joined the module's session, leaves it running
        out = run_cells(_cells(4), store, fake, executor=ex, progress=False, poll=0.05)
        assert sorted(out.done) == sorted(c.key() for c in _cells(4)) and not out.failed
        rows = {r["config"]["seed"]: r["result"] for r in store.rows(kind="bench")}
        assert {s: r["score"] for s, r in rows.items()} == {0: 0.0, 1: 0.1, 2: 0.2, 3: 0.3}
        assert all(r["pid"] != driver for r in rows.values())  # trained on Ray workers
        assert store.claims() == []
        # a second sweep finds every cell stored and submits nothing
        again = run_cells(_cells(4), store, fake, executor=RayCells(), progress=False, poll=0.05)
        assert len(again.skipped) == 4 and not again.done
    assert ray.is_initialized()


def test_a_worker_killed_mid_cell_is_retried(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()

    def dies_once(cfg, checkpoint_dir=None, resume=False):
        mark = marks / f"{cfg.seed}-{len(list(marks.glob(f'{cfg.seed}-*')))}"
        mark.write_text(str(os.getpid()))
        if mark.name.endswith("-0"):  # first attempt: the worker process dies mid-cell
            os.kill(os.getpid(), signal.SIGKILL)
        return {"metric": "accuracy", "score": 1.0}

    with ResultStore(tmp_path / "s.sqlite") as store:
        out = run_cells(
            _cells(2), store, dies_once, executor=RayCells(max_retries=1), progress=False, poll=0.05
        )
        assert len(out.done) == 2 and not out.failed
        assert sorted(p.name for p in marks.iterdir()) == ["0-0", "0-1", "1-0", "1-1"]
        assert len(store.rows(kind="bench")) == 2


def test_a_cell_whose_worker_always_dies_is_reported_not_lost(tmp_path):
    logs = []

    def always_dies(cfg, checkpoint_dir=None, resume=False):
        if cfg.seed == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return {"metric": "accuracy", "score": 0.5}

    with ResultStore(tmp_path / "s.sqlite") as store:
        out = run_cells(
            _cells(2),
            store,
            always_dies,
            executor=RayCells(max_retries=0),
            progress=False,
            poll=0.05,
            log=logs.append,
        )
        bad = _cells(2)[1].key()
        assert out.done == [_cells(2)[0].key()] and list(out.failed) == [bad]
        assert "worker died" in out.failed[bad] and "1 attempt" in out.failed[bad]
        assert any("failed" in line for line in logs)
        assert store.keys("bench") == {_cells(2)[0].key()} and store.claims() == []  # next run retries it


def test_a_raising_cell_is_retried_then_reported(tmp_path):
    tries = tmp_path / "tries"
    tries.mkdir()

    def flaky(cfg, checkpoint_dir=None, resume=False):
        n = len(list(tries.glob(f"{cfg.seed}-*")))
        (tries / f"{cfg.seed}-{n}").touch()
        if cfg.seed == 0 and n == 0:
            raise RuntimeError("transient")
        if cfg.seed == 1:
            raise RuntimeError("always broken")
        return {"metric": "accuracy", "score": 0.25}

    with ResultStore(tmp_path / "s.sqlite") as store:
        out = run_cells(_cells(2), store, flaky, executor=RayCells(max_retries=1), progress=False, poll=0.05)
    bad = _cells(2)[1].key()
    assert out.done == [_cells(2)[0].key()] and list(out.failed) == [bad]
    assert "RuntimeError: always broken" in out.failed[bad] and "all 2 attempts" in out.failed[bad]
    assert sorted(p.name for p in tries.iterdir()) == ["0-0", "0-1", "1-0", "1-1"]


def test_an_unreachable_cluster_is_a_clear_error_quickly(tmp_path, capsys):
    port = _free_port()
    t0 = time.monotonic()
    with pytest.raises(RayUnavailable, match=rf"cannot reach the Ray cluster at '127\.0\.0\.1:{port}'"):
        RayCells(f"127.0.0.1:{port}")
    grid = tmp_path / "grid.yaml"
    grid.write_text(textwrap.dedent(GRID))
    db = tmp_path / "s.sqlite"
    argv = ["bench", "--grid", str(grid), "--store", str(db), "--executor", "ray"]
    rc = cli.main([*argv, "--address", f"ray://127.0.0.1:{port}"])
    assert rc == 2 and f"cannot reach the Ray cluster at 'ray://127.0.0.1:{port}'" in capsys.readouterr().err
    assert not db.exists()  # refused before the store is touched
    assert time.monotonic() - t0 < 60  # refused by a TCP connect, not Ray's minute-long GCS retries


@pytest.mark.parametrize(
    "address, expected",
    [
        ("10.0.0.5:6380", ("10.0.0.5", 6380)),
        ("head", ("head", 6379)),
        ("ray://head", ("head", 10001)),
        ("ray://h:1234", ("h", 1234)),
        ("auto", None),
    ],
)
def test_split_address(address, expected):
    assert split_address(address) == expected


@pytest.mark.parametrize("address", ["host:0", "host:x", "ray://", "http://h:1"])
def test_bad_address_is_refused(address):
    with pytest.raises(RayUnavailable, match="bad Ray address"):
        split_address(address)


def test_ray_options_need_the_ray_executor(tmp_path, capsys):
    rc = cli.main(["bench", "--grid", "g.yaml", "--address", "127.0.0.1:1"])
    assert rc == 2 and "--address only apply with --executor ray" in capsys.readouterr().err


GRID = """\
name: tiny
defaults: {steps: 4, eval_every: 4, eval_n: 16, batch_size: 8}
experiments:
  - task: streaming_parity
    task_params: {max_train_length: 4, max_test_length: 8}
    mixers: [lstm]
    widths: [8]
    seeds: [0, 1]
"""

TIMING = {"tokens_per_s", "wall_time", "cpu_time"}


def _comparable(row):
    res = {k: v for k, v in row["result"].items() if k not in TIMING}
    res["history"] = [{k: v for k, v in h.items() if k not in TIMING} for h in res["history"]]
    return row["key"], row["config"], res, row["name"]


def test_bench_on_ray_stores_what_the_process_pool_stores(tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text(textwrap.dedent(GRID))
    common = ["bench", "--grid", str(grid), "--no-report", "--workers", "2"]
    assert cli.main([*common, "--store", str(tmp_path / "pool.sqlite")]) == 0
    assert cli.main([*common, "--store", str(tmp_path / "ray.sqlite"), "--executor", "ray"]) == 0
    assert "executor: Ray" in capsys.readouterr().out
    with ResultStore(tmp_path / "pool.sqlite") as a, ResultStore(tmp_path / "ray.sqlite") as b:
        pool, on_ray = a.rows(kind="bench"), b.rows(kind="bench")
    assert len(pool) == 2
    assert sorted(map(_comparable, pool), key=str) == sorted(map(_comparable, on_ray), key=str)


def test_resume_reaches_the_task_with_the_cells_checkpoint_folder(tmp_path):
    seen = []

    def fake(cfg, checkpoint_dir=None, resume=False):
        return {"metric": "accuracy", "score": 0.5, "ckpt": checkpoint_dir, "resume": resume}

    with ResultStore(tmp_path / "s.sqlite") as store:
        run_cells(_cells(1), store, fake, executor=RayCells(), resume=True, progress=False, poll=0.05)
        seen = [r["result"] for r in store.rows(kind="bench")]
    assert seen == [
        {
            "metric": "accuracy",
            "score": 0.5,
            "ckpt": str(tmp_path / "checkpoints" / _cells(1)[0].key()),
            "resume": True,
        }
    ]


def test_a_terminated_sweep_cancels_its_tasks_and_releases_its_claims(tmp_path):
    started = tmp_path / "started"

    def slow(cfg, checkpoint_dir=None, resume=False):
        started.touch()
        time.sleep(120)
        return {"score": 0.0}

    ex = RayCells(max_retries=0)
    with ResultStore(tmp_path / "s.sqlite") as store:

        def term():
            while not started.exists():
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=term, daemon=True).start()
        with pytest.raises(Terminated):
            run_cells(_cells(2), store, slow, executor=ex, progress=False, poll=0.05)
        assert store.claims() == [] and len(store) == 0
    assert not ex.refs
    both_cpus = ray.remote(num_cpus=2)(lambda: "free")
    assert ray.get(both_cpus.remote(), timeout=60) == "free"  # the sleeping cells' workers were killed


def test_without_ray_installed_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(RayUnavailable, match=r"pip install 'seqlab\[ray\]'"):
        RayCells()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--cpus-per-cell", "0"], "--cpus-per-cell must be > 0"),
        (["--gpus-per-cell", "-1"], "--gpus-per-cell >= 0"),
    ],
)
def test_bad_cell_resources_are_refused_before_the_store_opens(tmp_path, capsys, extra, message):
    db = tmp_path / "s.sqlite"
    rc = cli.main(["bench", "--grid", "g.yaml", "--store", str(db), "--executor", "ray", *extra])
    assert rc == 2 and message in capsys.readouterr().err and not db.exists()


def test_negative_retries_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--executor", "ray", "--max-retries", "-1"])
    assert exc.value.code == 2 and "--max-retries: expected an int >= 0" in capsys.readouterr().err
