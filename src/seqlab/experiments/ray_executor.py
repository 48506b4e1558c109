"""Train grid cells as Ray tasks: a :class:`~seqlab.experiments.runner.CellExecutor` for a cluster.

:func:`seqlab.experiments.runner.run_cells` keeps every duty it has with the local process pool --
it claims each cell in the store before submitting it, the driver alone writes the SQLite store (one
row per finished cell, as soon as its result comes back), and an interrupted sweep resumes from the
store. Only where the cell trains changes: each cell is one Ray task asking for ``cpus_per_cell``
CPUs and ``gpus_per_cell`` GPUs, so Ray places it on a node with those resources free.

A task whose worker process dies (killed, out of memory, node lost) or whose ``run_fn`` raises is
retried by Ray up to ``max_retries`` times; after the last attempt the cell is reported as failed
(its claim released, so the next invocation tries it again) -- never dropped silently.

Addresses: ``None`` starts a local Ray (``num_cpus`` CPUs, no dashboard) unless this process is
already connected; ``"host:port"`` joins the cluster whose head's GCS listens there (``ray start
--head`` prints it, default port 6379); ``"ray://host:port"`` uses Ray Client (default port 10001);
``"auto"`` finds a cluster started on this machine. A host:port that does not answer a TCP connect
within ``connect_timeout`` seconds is refused at once with :class:`RayUnavailable`.

Checkpoints go to ``<store dir>/checkpoints/<key>`` as a path on the worker's node: resuming a cell
(``--resume``) works when the nodes share that folder (or the cluster is one machine).
"""

from __future__ import annotations

import socket
import time
import traceback
from collections.abc import Callable
from typing import Any


class RayUnavailable(ValueError):
    """Ray is not installed, or the cluster address cannot be reached (a user error: exit 2)."""


def _import_ray():
    try:
        import ray
    except ImportError as err:
        raise RayUnavailable(
            "the Ray executor needs the 'ray' package: pip install 'seqlab[ray]' (or pip install 'ray>=2')"
        ) from err
    return ray


def split_address(address: str) -> tuple[str, int] | None:
    """(host, port) of a cluster address, or None for ``auto``/``local`` (Ray resolves those).

    ``host:port`` defaults to port 6379 (the GCS), ``ray://host`` to 10001 (Ray Client).
    """
    text = address.strip()
    if text in ("auto", "local"):
        return None
    client = text.startswith("ray://")
    rest = text[len("ray://") :] if client else text
    if not rest or "/" in rest:
        raise RayUnavailable(
            f"bad Ray address {address!r}: expected 'host:port', 'ray://host:port' or 'auto'"
        )
    host, sep, port = rest.rpartition(":")
    if not sep:
        host, port = rest, "10001" if client else "6379"
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not host or not 0 < number < 65536:
        raise RayUnavailable(
            f"bad Ray address {address!r}: expected 'host:port' with a port in 1..65535, "
            "'ray://host:port' or 'auto'"
        )
    return host.strip("[]"), number


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Raise :class:`RayUnavailable` unless a TCP connect to ``address``'s host:port succeeds in time."""
    hp = split_address(address)
    if hp is None:
        return
    try:
        with socket.create_connection(hp, timeout=timeout):
            pass
    except OSError as err:
        raise RayUnavailable(
            f"cannot reach the Ray cluster at {address!r} ({type(err).__name__}: {err}); start one with "
            "`ray start --head` on the head node and pass the address it prints (host:6379, or "
            "ray://host:10001 for Ray Client), or omit --address to start a local Ray"
        ) from err


def _run_cell(run_fn: Callable, cell, ckpt: str, resume: bool, threads: int):
    """The Ray task: one cell, ``threads`` torch threads (exceptions propagate, so Ray retries them)."""
    import torch

    torch.set_num_threads(max(1, threads))
    return run_fn(cell, checkpoint_dir=ckpt, resume=resume)


class RayCells:
    """Run cells as Ray tasks (see the module docstring).

    ``slots`` (cells in flight) defaults to what the cluster's CPUs (and GPUs, when cells ask for
    them) hold at connect time, at least 1; more cells than that stay unclaimed in the store so that
    another sweep on the same store can take them.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        cpus_per_cell: float = 1.0,
        gpus_per_cell: float = 0.0,
        max_retries: int = 2,
        num_cpus: int | None = None,
        slots: int | None = None,
        connect_timeout: float = 5.0,
    ):
        if not cpus_per_cell > 0:
            raise ValueError(f"cpus_per_cell must be > 0, got {cpus_per_cell!r}")
        if not gpus_per_cell >= 0:
            raise ValueError(f"gpus_per_cell must be >= 0, got {gpus_per_cell!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
        ray = _import_ray()
        self.ray = ray
        self.max_retries = max_retries
        self.owned = False  # did this executor start (and so must stop) the Ray session?
        if address is not None:
            check_reachable(address, connect_timeout)
        if not ray.is_initialized():
            if address is None:
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=True)
            else:
                try:
                    ray.init(address=address, log_to_driver=True)
                except (ConnectionError, TimeoutError) as err:
                    raise RayUnavailable(f"cannot connect to the Ray cluster at {address!r}: {err}") from err
            self.owned = True
        total = ray.cluster_resources()
        fit = int(total.get("CPU", 0) // cpus_per_cell)
        if gpus_per_cell > 0:
            fit = min(fit, int(total.get("GPU", 0) // gpus_per_cell))
            if total.get("GPU", 0) < gpus_per_cell:
                self._shutdown()
                raise RayUnavailable(
                    f"cells ask for {gpus_per_cell} GPUs but the Ray cluster has {total.get('GPU', 0)}"
                )
        self.slots = slots if slots is not None else max(1, fit)
        self.threads = max(1, int(cpus_per_cell))
        self.task = ray.remote(_run_cell).options(
            num_cpus=cpus_per_cell,
            num_gpus=gpus_per_cell,
            max_retries=max_retries,
            retry_exceptions=max_retries > 0,
        )
        self.refs: set = set()

    def describe(self) -> str:
        return (
            f"Ray {self.ray.__version__} ({self.slots} cells at once, "
            f"{self.max_retries} retries per cell, resources {self.ray.cluster_resources()})"
        )

    def submit(self, run_fn: Callable, cell, ckpt: str, resume: bool) -> Any:
        ref = self.task.remote(run_fn, cell, ckpt, resume, self.threads)
        self.refs.add(ref)
        return ref

    def wait(self, handles: list, timeout: float) -> list:
        """The finished ones among ``handles``, polling so that signals reach Python between polls.

        (A signal handler's exception raised inside a blocking ``ray.wait`` comes back from Ray as a
        plain ``KeyboardInterrupt``; the runner's SIGTERM must stay a ``Terminated``.)
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                ready, _ = self.ray.wait(handles, num_returns=len(handles), timeout=0)
            except KeyboardInterrupt as err:
                ctx = err.__context__
                raise (ctx if isinstance(ctx, KeyboardInterrupt) else err) from None
            left = deadline - time.monotonic()
            if ready or left <= 0:
                return ready
            time.sleep(min(0.02, left))

    def result(self, handle) -> tuple[str, Any]:
        ray = self.ray
        self.refs.discard(handle)
        attempts = f"{self.max_retries + 1} attempt{'s' if self.max_retries else ''}"
        try:
            return "ok", ray.get(handle)
        except ray.exceptions.RayTaskError as err:  # run_fn raised on every attempt
            cause = err.cause if isinstance(err.cause, BaseException) else err
            return "error", (
                f"{type(cause).__name__}: {cause} (Ray task failed on all {attempts})\n"
                + "".join(traceback.format_exception_only(type(err), err))[-2000:]
            )
        except ray.exceptions.RayError as err:  # the worker process or its node died on every attempt
            return "error", f"{type(err).__name__}: the Ray worker died on all {attempts}: {err}"

    def _shutdown(self) -> None:
        if self.owned:
            self.ray.shutdown()
            self.owned = False

    def close(self) -> None:
        self._shutdown()

    def stop(self) -> None:
        for ref in list(self.refs):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # already finished or gone: nothing left to stop
                pass
        self.refs.clear()
        self._shutdown()


__all__ = ["RayCells", "RayUnavailable", "check_reachable", "split_address"]
