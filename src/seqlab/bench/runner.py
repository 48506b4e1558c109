"""Run a grid: skip what the store already holds, train the rest on worker processes.

Each worker process uses one thread (``torch.set_num_threads(1)``), so ``workers=2`` fills a 2-core
machine. The parent is the only writer of the store: a row goes in (one transaction) as soon as its
run returns, and one overall progress bar counts finished runs. A run that raises is reported and
left out of the store, so the next invocation retries it. With ``resume=True`` a run killed
mid-training continues from its last checkpoint (``<store dir>/checkpoints/<key>``).
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from seqlab.bench.store import ResultStore
from seqlab.experiments.config import RunConfig


@dataclass
class GridOutcome:
    done: list[str] = field(default_factory=list)  # keys trained now
    skipped: list[str] = field(default_factory=list)  # keys already in the store
    failed: dict[str, str] = field(default_factory=dict)  # key -> error message


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _call(run_fn, cfg_dict: dict, ckpt: str | None, resume: bool):
    try:
        return "ok", run_fn(RunConfig.from_dict(cfg_dict), checkpoint_dir=ckpt, resume=resume)
    except Exception as err:  # reported by the parent, the grid goes on
        return "error", f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=4)}"


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
    progress: bool = True,
    run_fn: Callable | None = None,
    log: Callable[[str], None] = print,
) -> GridOutcome:
    """Train every run of ``runs`` not yet in ``store``; see the module docstring."""
    run_fn = run_fn or default_run_fn()
    have = store.keys()
    out = GridOutcome(skipped=[r.key() for r in runs if r.key() in have])
    todo = [r for r in runs if r.key() not in have]
    ckpt_root = store.path.parent / "checkpoints"
    bar = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(
            TextColumn(f"[bold]{grid_name or 'grid'}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
        )
        bar.start()
        bar_id = bar.add_task("runs", total=len(runs), completed=len(out.skipped), info="")

    def finish(cfg: RunConfig, status: str, payload):
        key = cfg.key()
        if status == "ok":
            store.put(cfg, payload, grid_name)
            shutil.rmtree(ckpt_root / key, ignore_errors=True)
            out.done.append(key)
            metric = payload.get("metric", "")
            info = f"{_label(cfg)}: {metric} {payload.get('score', float('nan')):.3f}"
        else:
            out.failed[key] = payload
            info = f"{_label(cfg)}: FAILED"
            log(f"run {_label(cfg)} failed: {payload.splitlines()[0]}")
        if bar is not None:
            bar.update(bar_id, advance=1, info=info)
            if not bar.console.is_terminal:  # no live bar in a log file: one line per finished run
                log(f"[{len(out.done) + len(out.failed) + len(out.skipped)}/{len(runs)}] {info}")

    try:
        if workers <= 0:
            for cfg in todo:
                finish(cfg, *_call(run_fn, cfg.to_dict(), str(ckpt_root / cfg.key()), resume))
        else:
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker) as pool:
                pending = {
                    pool.submit(_call, run_fn, cfg.to_dict(), str(ckpt_root / cfg.key()), resume): cfg
                    for cfg in todo
                }
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        finish(pending.pop(fut), *fut.result())
    finally:
        if bar is not None:
            bar.stop()
    return out


def store_path_default() -> Path:
    return Path("results") / "bench.sqlite"
