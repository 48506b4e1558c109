"""Run a bench grid through the experiment layer's runner (:mod:`seqlab.experiments.runner`).

Only the bench glue lives here: the default ``run_fn`` (:func:`seqlab.bench.run.run_one`) and the
one-line label of a :class:`RunConfig`. Checkpoints go to ``<store dir>/checkpoints/<key>``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from seqlab.experiments.config import RunConfig
from seqlab.experiments.runner import GridOutcome, Terminated, run_cells
from seqlab.experiments.store import ResultStore


def default_run_fn():
    from seqlab.bench.run import run_one

    return run_one


def _label(cfg: RunConfig) -> str:
    diff = ",".join(f"{k}={v}" for k, v in sorted(cfg.task_params.items()))
    extra = f" rpe={cfg.randomized_positions}" if cfg.randomized_positions else ""
    extra += f" init={cfg.state_init}" if cfg.state_init != "zero" else ""
    return f"{cfg.task}[{diff}] {cfg.mixer} d={cfg.d_model}{extra}"


def run_grid(
    runs: list[RunConfig],
    store: ResultStore,
    *,
    grid_name: str = "",
    workers: int = 2,
    resume: bool = False,
    rerun_stale: bool = False,
    progress: bool = True,
    run_fn: Callable | None = None,
    log: Callable[[str], None] = print,
    executor=None,
) -> GridOutcome:
    """Train every run of ``runs`` not yet in ``store`` (rows of kind "bench").

    ``executor``: a :class:`~seqlab.experiments.runner.CellExecutor` instead of local workers.
    """
    return run_cells(
        runs,
        store,
        run_fn or default_run_fn(),
        kind="bench",
        name=grid_name,
        workers=workers,
        resume=resume,
        rerun_stale=rerun_stale,
        progress=progress,
        label=_label,
        log=log,
        executor=executor,
    )


def store_path_default() -> Path:
    return Path("results") / "bench.sqlite"


__all__ = ["GridOutcome", "Terminated", "default_run_fn", "run_grid", "store_path_default"]
