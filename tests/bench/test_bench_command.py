"""``seqlab bench`` faults: a bad --workers, --resume with nothing to resume, the store deleted mid-sweep."""

import os
import textwrap

import pytest

from seqlab import cli
from seqlab.bench import runner as bench_runner
from seqlab.experiments.store import ResultStore

GRID = """\
name: toy
defaults: {steps: 5, eval_every: 5}
experiments:
  - task: _toy_parity
    mixers: [_toy_cummean]
    widths: [8]
    seeds: [0, 1, 2, 3]
"""


def _grid(tmp_path):
    p = tmp_path / "grid.yaml"
    p.write_text(textwrap.dedent(GRID))
    return str(p)


def _bench(tmp_path, *extra):
    return cli.main(
        ["bench", "--grid", _grid(tmp_path), "--store", str(tmp_path / "s.sqlite"), "--no-report", *extra]
    )


def test_negative_workers_is_an_error(tmp_path, toy_components, capsys):
    with pytest.raises(SystemExit) as exc:
        _bench(tmp_path, "--workers", "-3")
    assert exc.value.code == 2
    assert "--workers: expected an int >= 0" in capsys.readouterr().err


def test_resume_with_nothing_to_resume_says_so(tmp_path, toy_components, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(bench_runner, "default_run_fn", lambda: lambda cfg, **kw: calls.append(cfg) or {})
    rc = _bench(tmp_path, "--workers", "0", "--resume")
    out = capsys.readouterr().out
    assert rc == 1 and "nothing to resume" in out and "0 of 4 runs stored, 4 never started" in out
    assert calls == [] and "done" not in out


def test_store_deleted_mid_sweep_exits_non_zero_naming_the_store(
    tmp_path, toy_components, capsys, monkeypatch
):
    db = tmp_path / "s.sqlite"
    calls = []

    def fake(cfg, checkpoint_dir=None, resume=False):
        calls.append(cfg.seed)
        if len(calls) == 2:
            os.unlink(db)
        return {"metric": "accuracy", "score": 1.0}

    monkeypatch.setattr(bench_runner, "default_run_fn", lambda: fake)
    rc = _bench(tmp_path, "--workers", "0")
    cap = capsys.readouterr()
    assert rc != 0 and "done" not in cap.out
    assert f"results store {db} was deleted while in use" in cap.err
    assert len(calls) == 2


def test_rerun_stale_retrains_rows_of_another_commit(tmp_path, toy_components, capsys, monkeypatch):
    from seqlab.experiments import store as store_mod

    calls = []
    monkeypatch.setattr(
        bench_runner, "default_run_fn", lambda: lambda cfg, **kw: calls.append(cfg.seed) or {"score": 0.5}
    )
    monkeypatch.setattr(store_mod, "git_commit", lambda: "1" * 40)
    assert _bench(tmp_path, "--workers", "0") == 0 and sorted(calls) == [0, 1, 2, 3]
    monkeypatch.setattr(store_mod, "git_commit", lambda: "2" * 40)
    assert _bench(tmp_path, "--workers", "0") == 0 and len(calls) == 4
    assert "4 stale rows (--rerun-stale)" in capsys.readouterr().out
    assert _bench(tmp_path, "--workers", "0", "--rerun-stale") == 0 and len(calls) == 8
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert len(store) == 4 and store.stale_keys() == set()


RESOURCES = GRID + "resources: {cpus_per_cell: 0.5, gpus_per_cell: 0, max_retries: 4}\n"


def test_grid_resources_reach_the_ray_executor_and_options_win(tmp_path, toy_components, monkeypatch):
    import seqlab.experiments.ray_executor as ray_executor

    seen = {}

    class Stop(ValueError):  # a user error to the CLI: exits 2 without running anything
        pass

    def fake_ray(address, **kw):
        seen.update(kw)
        raise Stop("stop here")

    monkeypatch.setattr(ray_executor, "RayCells", fake_ray)
    p = tmp_path / "grid.yaml"
    p.write_text(RESOURCES)
    args = [
        "bench",
        "--grid",
        str(p),
        "--store",
        str(tmp_path / "s.sqlite"),
        "--no-report",
        "--executor",
        "ray",
    ]
    assert cli.main([*args, "--max-retries", "1"]) == 2
    assert {k: seen[k] for k in ("cpus_per_cell", "gpus_per_cell", "max_retries")} == {
        "cpus_per_cell": 0.5,
        "gpus_per_cell": 0,
        "max_retries": 1,
    }


@pytest.mark.parametrize(
    "resources, match",
    [
        ("{cpus_per_cell: 0}", "resources.cpus_per_cell' expects a number > 0"),
        ("{gpus: 1}", "unknown field 'resources.gpus'"),
        ("{max_retries: 1.5}", "resources.max_retries' expects an int >= 0"),
    ],
)
def test_bad_grid_resources_name_the_field_and_line(tmp_path, toy_components, capsys, resources, match):
    p = tmp_path / "grid.yaml"
    p.write_text(GRID + f"resources: {resources}\n")
    rc = cli.main(["bench", "--grid", str(p), "--store", str(tmp_path / "s.sqlite"), "--no-report", "--list"])
    err = capsys.readouterr().err
    assert rc == 2 and match in err and "grid.yaml" in err
