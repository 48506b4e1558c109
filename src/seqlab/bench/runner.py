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


def run_grid_data_parallel(
    runs: list[RunConfig],
    store_path,
    *,
    grid_name: str = "",
    run_fn: Callable | None = None,
    log: Callable[[str], None] = print,
) -> GridOutcome:
    """Under an initialised process group: all ranks train every missing run together; rank 0 stores.

    Rank 0 reads which runs ``store_path`` lacks and broadcasts their keys, so every rank trains the
    same runs in the same order; :func:`seqlab.train.fit` inside ``run_fn`` shards each global batch
    over the ranks (DDP), so a run's result equals the single-process one on the same global batch.
    Rank 0 writes each row as soon as its run ends (a killed sweep loses at most the runs in flight;
    rerunning trains only what is missing). The other ranks never open the store.
    """
    import torch.distributed as dist

    from seqlab.train.distributed import rank_and_world

    rank, world = rank_and_world()
    run_fn = run_fn or default_run_fn()
    by_key = {r.key(): r for r in runs}
    out = GridOutcome()
    store = ResultStore(store_path) if rank == 0 else None
    try:
        todo = [k for k in by_key if k not in store.keys("bench")] if store is not None else None
        box = [todo]
        if world > 1:
            dist.broadcast_object_list(box, src=0)
        todo = box[0]
        out.skipped.extend(k for k in by_key if k not in todo)
        for i, key in enumerate(todo):
            cfg = by_key[key]
            result = run_fn(cfg, progress=False)
            if store is not None:
                store.put(cfg, result, grid_name, kind="bench")
                metric, score = result.get("metric", ""), result.get("score", "")
                log(f"[{i + 1}/{len(todo)}] {_label(cfg)}: {metric} {score}")
            out.done.append(key)
    finally:
        if store is not None:
            store.close()
    return out
