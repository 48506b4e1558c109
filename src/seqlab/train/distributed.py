"""Data-parallel training on ``torch.distributed``: what :func:`seqlab.train.fit` needs to be rank-aware.

Under ``torchrun --nproc_per_node N`` (or any launcher that set up a default process group) ``fit``
runs unchanged as synchronous data parallelism (DDP):

* every rank builds the same *global* batch of step ``s`` (``batches(s)`` is a function of ``s``)
  and keeps its own contiguous slice (:func:`shard_batch`): rank ``r`` of ``W`` holds examples
  ``[r * n / W, (r + 1) * n / W)``. The global batch must split evenly;
* ``DistributedDataParallel`` averages the gradients over ranks, so with a loss that is a mean over
  examples the update equals a single process on the global batch:
  ``grad = (1/W) sum_r (1/m) sum_{i in r} g_i = (1/n) sum_i g_i`` with ``m = n / W``;
* parameters start from the same seed, and DDP broadcasts rank 0's parameters at wrap time;
* rank 0 alone writes checkpoints and draws the progress bar; checkpoints record the world size
  and a resume under a different world size is refused (:func:`check_world_size`);
* on resume the ranks check that they found the same checkpoint (``checkpoint_dir`` must be a
  folder every rank sees) and refuse together otherwise (:func:`check_ranks_agree`);
* a collective that fails because a peer died (or timed out) is re-raised as
  :class:`DistributedError` naming the rank and step instead of a bare backend error, and the
  process group's ``timeout`` bounds how long a rank waits on a peer that hangs.

Token-masked losses (``masked_loss``) average over each rank's own masked positions, so the update
equals the single-process one exactly when every shard holds the same number of masked positions
(always true when there is no mask); otherwise it is the mean of per-rank means, as in any DDP.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


class DistributedError(RuntimeError):
    """A collective failed: another rank died, hung past the timeout, or the group broke."""


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, or ``(0, 1)`` when none is set up."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process is rank 0 (or the only process)."""
    return rank_and_world()[0] == 0


def init_distributed(backend: str | None = None, timeout_s: float = 300.0) -> tuple[int, int]:
    """Set up the default process group from torchrun's environment; returns ``(rank, world)``.

    ``backend`` defaults to NCCL when CUDA is available and gloo otherwise. Without the torchrun
    variables (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) it does nothing and
    returns ``(0, 1)``. A group created here is destroyed at interpreter exit (:func:`_destroy_at_exit`).
    """
    if dist.is_initialized():
        return rank_and_world()
    needed = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    if not all(k in os.environ for k in needed):
        return 0, 1
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s}")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    atexit.register(_destroy_at_exit)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return rank_and_world()


def _destroy_at_exit() -> None:
    """Destroy the process group :func:`init_distributed` created, while the interpreter is alive.

    Left to interpreter teardown, gloo's worker threads can outlive the objects they hold and the
    process aborts with ``terminate called without an active exception`` after training finished.
    A no-op when the script already called ``dist.destroy_process_group()``.
    """
    if dist.is_available() and dist.is_initialized():
        gc.collect()  # frees a finished DDP wrapper, whose reducer still holds the group
        dist.destroy_process_group()


def shard_batch(batch: dict[str, Any], rank: int, world: int) -> dict[str, Any]:
    """Rank ``rank``'s contiguous slice (along dim 0) of every tensor in the global ``batch``.

    Non-tensor values pass through. Raises ``ValueError`` when the batch sizes disagree or do not
    divide by ``world``.
    """
    if world == 1:
        return batch
    if not isinstance(batch, dict):
        raise ValueError(f"a data-parallel batch must be a dict of tensors, got {type(batch).__name__}")
    sizes = {k: v.shape[0] for k, v in batch.items() if isinstance(v, torch.Tensor) and v.dim() > 0}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"batch tensors must share their first (batch) dimension, got {sizes}")
    if not sizes:
        raise ValueError("a data-parallel batch needs at least one tensor with a batch dimension")
    n = next(iter(sizes.values()))
    if n % world:
        raise ValueError(
            f"the global batch of {n} examples does not split evenly over world_size={world}; "
            f"use a global batch size divisible by {world}"
        )
    m = n // world
    return {
        k: v[rank * m : (rank + 1) * m] if isinstance(v, torch.Tensor) and v.dim() > 0 else v
        for k, v in batch.items()
    }


def wrap_model(model: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` when more than one rank runs, else ``model`` itself."""
    _, world = rank_and_world()
    if world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index if device.index is not None else 0] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def world_size_extra() -> dict[str, Any]:
    """What a checkpoint records about the run's parallelism (its ``extra`` dict)."""
    return {"world_size": rank_and_world()[1]}


def check_world_size(meta: dict[str, Any], path) -> None:
    """Refuse to resume a checkpoint written under another world size (a clear ``ValueError``).

    Checkpoints written without a recorded world size came from a single process.
    """
    saved = meta.get("extra", {}).get("world_size", 1)
    _, world = rank_and_world()
    if saved != world:
        raise ValueError(
            f"checkpoint {path} was written by a run with world_size={saved} but this run has "
            f"world_size={world}; resume with --nproc_per_node {saved} (the same global batch then "
            f"splits the same way), or start over without resuming"
        )


def _comm_device() -> torch.device:
    """Where small tensors for collectives live: the current GPU under NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def mean_over_ranks(value: float) -> float:
    """Average a Python float over ranks (the logged loss is the global one)."""
    _, world = rank_and_world()
    if world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return float(t.item()) / world


def check_ranks_agree(value: int, what: str) -> None:
    """Raise ``ValueError`` on every rank when the ranks hold different ``value`` s of ``what``."""
    _, world = rank_and_world()
    if world == 1:
        return
    t = torch.tensor([value], dtype=torch.int64, device=_comm_device())
    got = [torch.zeros_like(t) for _ in range(world)]
    dist.all_gather(got, t)
    values = [int(v.item()) for v in got]
    if len(set(values)) > 1:
        raise ValueError(f"the ranks disagree on {what}: {values} (rank 0, 1, ...)")


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if rank_and_world()[1] > 1:
        dist.barrier()


def _is_comm_error(err: BaseException) -> bool:
    if isinstance(err, dist.DistError):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and any(
        s in text for s in ("gloo", "nccl", "connection", "timed out", "timeout", "broken pipe")
    )


@contextlib.contextmanager
def collective_guard(step: int):
    """Turn a failed collective into :class:`DistributedError` naming this rank and ``step``.

    ``step`` is the 1-based number of the optimizer step being run (a checkpoint's number once done).
    """
    rank, world = rank_and_world()
    try:
        yield
    except DistributedError:
        raise
    except Exception as err:
        if world == 1 or not _is_comm_error(err):
            raise
        raise DistributedError(
            f"rank {rank} of {world}: a collective failed during step {step} -- another rank died or "
            f"did not answer within the process group timeout ({type(err).__name__}: {str(err)[:300]}). "
            f"Restart every rank; resume=True continues from the last complete checkpoint "
            f"(step {step - 1} at most)"
        ) from err
