"""Peak memory of one call: the process resident-set high-water mark on CPU, the allocator on CUDA.

CPU: the heap is trimmed (``malloc_trim``), the high-water mark ``VmHWM`` is reset through
``/proc/self/clear_refs`` (Linux), and the peak is ``VmHWM`` after the call minus ``VmRSS`` before
it. That counts everything the call allocates, not only tensors. It is read on a separate run from
the timed ones: trimming before a run makes it fault its pages back in, which is not steady state.
CUDA: ``torch.cuda.max_memory_allocated`` after the call minus ``memory_allocated`` before it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import torch

METHODS = {
    "cpu": "RSS high-water delta (VmHWM reset via /proc/self/clear_refs)",
    "cuda": "torch.cuda.max_memory_allocated delta",
}


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_mb(fn: Callable[[], object], device: str = "cpu") -> float | None:
    """MiB that one call of ``fn`` needs above what was in use when it started (None if unknown)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    _trim()
    ok = _reset_peak()
    base = _status_kb("VmRSS")
    fn()
    hwm = _status_kb("VmHWM")
    if not ok or base is None or hwm is None:
        return None
    return max(hwm - base, 0) / 1024
