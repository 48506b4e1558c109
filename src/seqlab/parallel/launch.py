"""Start ``world`` local processes joined in a gloo process group on 127.0.0.1 (tests, benchmarks).

:func:`run_local` forks one process per rank, sets up the default process group over TCP on a free
loopback port, calls ``fn(rank, world, *args)`` in each and returns the per-rank results in rank
order. A rank that raises, or exits without a result (killed), ends the run: the others are
terminated and :class:`LocalRunError` reports every rank's outcome. ``timeout_s`` bounds both the
process group's collectives and the whole run, so a stuck rank cannot hang the caller.

For real jobs use ``torchrun`` (see docs/distributed.md); this helper is for one machine.
"""

from __future__ import annotations

import gc
import os
import pickle
import socket
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


class LocalRunError(RuntimeError):
    """One or more ranks of a local run failed; ``outcomes`` maps rank -> ("ok"|"error"|"exit", info)."""

    def __init__(self, message: str, outcomes: dict[int, tuple[str, Any]]):
        super().__init__(message)
        self.outcomes = outcomes


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, timeout_s, fn, args, out_dir, env):
    os.environ.update(env)
    os.environ.update(
        {"RANK": str(rank), "WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    )
    torch.set_num_threads(1)
    result: tuple[str, Any]
    try:
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world,
            timeout=timedelta(seconds=timeout_s),
        )
        result = ("ok", fn(rank, world, *args))
    except BaseException as err:  # reported to the parent, which raises
        result = ("error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}")
    # The outcome is on disk before any teardown: tearing down a group whose peer died can abort
    # the process, which must not turn a reported error into a bare exit.
    tmp = Path(out_dir) / f".rank{rank}.tmp"
    with open(tmp, "wb") as f:
        pickle.dump(result, f)
    os.replace(tmp, Path(out_dir) / f"rank{rank}.pkl")
    if result[0] != "ok":
        os._exit(1)  # a non-zero exit tells the parent at once (peers may be blocked in a collective)
    if dist.is_initialized():
        gc.collect()  # a finished DDP wrapper still holds the group
        dist.destroy_process_group()


def run_local(
    fn: Callable[..., Any],
    world: int,
    *args,
    timeout_s: float = 120.0,
    env: dict[str, str] | None = None,
    allow_failures: bool = False,
) -> list[Any]:
    """Run ``fn(rank, world, *args)`` on ``world`` forked ranks; returns their results by rank.

    ``fn`` must be picklable only in what it returns (processes are forked). With
    ``allow_failures=True`` the outcomes ``(kind, info)`` of every rank are returned instead of
    raising, ``kind`` being ``"ok"``, ``"error"`` (a raised exception, info = its text) or ``"exit"``
    (no result, info = the exit code; -9 for SIGKILL).
    """
    if not isinstance(world, int) or world < 1:
        raise ValueError(f"world must be an int >= 1, got {world!r}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    port = free_port()
    ctx = mp.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="seqlab-ranks-") as out_dir:
        procs = [
            ctx.Process(target=_worker, args=(r, world, port, timeout_s, fn, args, out_dir, env or {}))
            for r in range(world)
        ]
        for p in procs:
            p.start()
        deadline = time.monotonic() + timeout_s + 30.0
        failed_early = False
        while any(p.is_alive() for p in procs):
            if time.monotonic() > deadline:
                break
            if any(p.exitcode not in (None, 0) for p in procs) and not allow_failures:
                failed_early = True
                break
            time.sleep(0.05)
        if failed_early or time.monotonic() > deadline:
            grace = time.monotonic() + 5.0
            while any(p.is_alive() for p in procs) and time.monotonic() < grace:
                time.sleep(0.05)
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join()
        outcomes: dict[int, tuple[str, Any]] = {}
        for r, p in enumerate(procs):
            f = Path(out_dir) / f"rank{r}.pkl"
            if f.exists():
                with open(f, "rb") as fh:
                    outcomes[r] = pickle.load(fh)
            else:
                outcomes[r] = ("exit", p.exitcode)
    if allow_failures:
        return [outcomes[r] for r in range(world)]
    bad = {r: o for r, o in outcomes.items() if o[0] != "ok"}
    if bad:
        lines = [f"rank {r}: {kind} {str(info)[:2000]}" for r, (kind, info) in sorted(bad.items())]
        raise LocalRunError(f"{len(bad)} of {world} ranks failed:\n" + "\n".join(lines), outcomes)
    return [outcomes[r][1] for r in range(world)]
