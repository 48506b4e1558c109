"""Run a list of cells: skip what the store holds, claim the rest, train them on worker processes.

A *cell* is a config object with ``key()`` and ``to_dict()`` (a :class:`RunConfig`, or any other
kind's config); ``run_fn(cell, checkpoint_dir=..., resume=...)`` trains it and returns a JSON-able
result dict. Each worker process uses one thread (``torch.set_num_threads(1)``), so ``workers=2``
fills a 2-core machine; ``workers=0`` runs in-process.

- The parent is the only writer: a row goes into the store (one transaction) as soon as its cell
  returns; a cell that raises is reported, its claim released, and the next invocation retries it.
- Concurrent sweeps on one store split the work: a cell is *claimed* in the store before it is
  submitted, a cell another live sweep holds is waited for (and taken over when that sweep dies),
  and only the claim holder touches the cell's checkpoint folder ``<store dir>/checkpoints/<key>``.
- The sweep stops with :class:`~seqlab.experiments.store.StoreError` when the store's file was
  deleted or replaced; workers are terminated.
- Workers die with the parent: the worker initializer asks Linux to SIGKILL the worker when its
  parent dies (``prctl(PR_SET_PDEATHSIG)``) and starts a watchdog thread that exits when the parent
  pid changes (the fallback elsewhere). SIGTERM to the parent terminates the workers and raises
  :class:`Terminated` (a ``KeyboardInterrupt``, so commands exit non-zero).
- ``rerun_stale=True`` retrains the cells whose rows another code version made (the row is replaced).
- Where the cells train is a :class:`CellExecutor`: the local process pool (:class:`ProcessPoolCells`,
  the default) or another one passed as ``executor=`` (e.g.
  :class:`seqlab.experiments.ray_executor.RayCells`); claims, the store and the report stay here.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import shutil
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from seqlab.experiments.store import ResultStore

PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """The sweep received SIGTERM; its workers were terminated."""


@dataclass
class GridOutcome:
    done: list[str] = field(default_factory=list)  # keys trained now
    skipped: list[str] = field(default_factory=list)  # keys already in the store (or stored by another sweep)
    failed: dict[str, str] = field(default_factory=dict)  # key -> error message


def _die_with_parent(parent_pid: int) -> None:
    """Exit when the parent dies: PR_SET_PDEATHSIG on Linux, plus a parent-pid watchdog thread."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watchdog():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watchdog, name="seqlab-parent-watchdog", daemon=True).start()


def init_worker(parent_pid: int) -> None:
    """Worker initializer: one torch thread, and die with the parent."""
    _die_with_parent(parent_pid)
    import torch

    torch.set_num_threads(1)


def _call(run_fn, cell, ckpt: str | None, resume: bool):
    try:
        return "ok", run_fn(cell, checkpoint_dir=ckpt, resume=resume)
    except Exception as err:  # reported by the parent, the grid goes on
        return "error", f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=4)}"


def validate_workers(workers) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be an int >= 0 (0 = run in-process), got {workers!r}")
    return workers


def _default_label(cell) -> str:
    return getattr(cell, "label", lambda: cell.key())()


@contextlib.contextmanager
def _sigterm_raises():
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (elsewhere: unchanged)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum, frame):
        raise Terminated(f"received signal {signum}")

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers now (queued cells are dropped)."""
    procs = list(getattr(pool, "_processes", {}).values())
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(timeout=5)
            if p.is_alive():
                p.kill()


class CellExecutor(Protocol):
    """Where the cells of :func:`run_cells` train; the caller alone claims cells and writes the store.

    ``slots`` cells are in flight at once. ``submit`` starts ``run_fn(cell, checkpoint_dir=ckpt,
    resume=resume)`` and returns a hashable handle; ``wait`` returns the handles among ``handles``
    that finished within ``timeout`` seconds; ``result`` gives ``("ok", result dict)`` or
    ``("error", message)`` of a finished handle; ``close`` ends a finished sweep, ``stop`` aborts one
    (cells in flight are dropped, their claims released by :func:`run_cells`).
    """

    slots: int

    def submit(self, run_fn: Callable, cell, ckpt: str, resume: bool) -> Any: ...

    def wait(self, handles: list, timeout: float) -> list: ...

    def result(self, handle) -> tuple[str, Any]: ...

    def close(self) -> None: ...

    def stop(self) -> None: ...


class ProcessPoolCells:
    """The default :class:`CellExecutor`: ``workers`` spawned processes that die with the parent."""

    def __init__(self, workers: int):
        self.slots = workers
        ctx = mp.get_context("spawn")
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=init_worker, initargs=(os.getpid(),)
        )

    def submit(self, run_fn, cell, ckpt, resume):
        return self.pool.submit(_call, run_fn, cell, ckpt, resume)

    def wait(self, handles, timeout):
        return list(wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)[0])

    def result(self, handle):
        return handle.result()

    def close(self):
        self.pool.shutdown(wait=True)

    def stop(self):
        _stop_pool(self.pool)


def run_cells(
    cells: list,
    store: ResultStore,
    run_fn: Callable,
    *,
    kind: str = "bench",
    name: str = "",
    workers: int = 2,
    resume: bool = False,
    rerun_stale: bool = False,
    progress: bool = True,
    label: Callable | None = None,
    log: Callable[[str], None] = print,
    poll: float = 0.5,
    device: str | None = None,
    executor: CellExecutor | None = None,
) -> GridOutcome:
    """Train every cell of ``cells`` not yet in ``store`` (see the module docstring).

    ``executor`` (optional) trains the cells instead of ``workers`` local processes.
    """
    workers = validate_workers(workers)
    label = label or _default_label
    have = store.keys(kind)
    stale = store.stale_keys(kind) if rerun_stale else set()
    seen: set[str] = set()
    todo, out = deque(), GridOutcome()
    for c in cells:
        k = c.key()
        if k in seen:
            continue
        seen.add(k)
        if k in have and k not in stale:
            out.skipped.append(k)
        else:
            todo.append(c)
    ckpt_root = store.path.parent / "checkpoints"
    bar = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(
            TextColumn(f"[bold]{name or 'grid'}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
        )
        bar.start()
        bar_id = bar.add_task("runs", total=len(seen), completed=len(out.skipped), info="")

    def advance(info: str):
        if bar is not None:
            bar.update(bar_id, advance=1, info=info)
            if not bar.console.is_terminal:  # no live bar in a log file: one line per finished cell
                log(f"[{len(out.done) + len(out.failed) + len(out.skipped)}/{len(seen)}] {info}")

    def finish(cell, status: str, payload):
        key = cell.key()
        if status == "ok":
            store.put(cell, payload, name, kind=kind, device=device, replace=key in stale)
            shutil.rmtree(ckpt_root / key, ignore_errors=True)
            out.done.append(key)
            score = payload.get("score") if isinstance(payload, dict) else None
            metric = payload.get("metric", "") if isinstance(payload, dict) else ""
            info = f"{label(cell)}: {metric} {score:.3f}" if isinstance(score, float) else label(cell)
        else:
            store.release(key, kind)
            out.failed[key] = payload
            info = f"{label(cell)}: FAILED"
            log(f"run {label(cell)} failed: {payload.splitlines()[0]}")
        advance(info)

    def next_cell(active: int):
        """Claim the next free cell; None when none is free now. Cells others hold go to the back."""
        busy = 0
        while todo and busy < len(todo):
            cell = todo.popleft()
            status = store.claim(cell.key(), kind, rerun_stale=rerun_stale)
            if status == "claimed":
                return cell
            if status == "done":
                out.skipped.append(cell.key())
                advance(f"{label(cell)}: stored by another sweep")
                continue
            todo.append(cell)
            busy += 1
        return None

    ex = None
    store.start_heartbeat()
    try:
        with _sigterm_raises():
            if workers == 0 and executor is None:
                while todo:
                    cell = next_cell(0)
                    if cell is None:
                        time.sleep(poll)  # every remaining cell is held by another live sweep
                        continue
                    finish(cell, *_call(run_fn, cell, str(ckpt_root / cell.key()), resume))
            else:
                ex = executor if executor is not None else ProcessPoolCells(workers)
                pending = {}
                while todo or pending:
                    while len(pending) < ex.slots:
                        cell = next_cell(len(pending))
                        if cell is None:
                            break
                        ck = str(ckpt_root / cell.key())
                        pending[ex.submit(run_fn, cell, ck, resume)] = cell
                    if not pending:
                        time.sleep(poll)
                        continue
                    for handle in ex.wait(list(pending), poll):
                        finish(pending.pop(handle), *ex.result(handle))
                ex.close()
                ex = None
    finally:
        if ex is not None:
            ex.stop()
        store.stop_heartbeat()
        store.release_all()
        if bar is not None:
            bar.stop()
    return out


__all__ = [
    "CellExecutor",
    "GridOutcome",
    "ProcessPoolCells",
    "Terminated",
    "init_worker",
    "run_cells",
    "validate_workers",
]
