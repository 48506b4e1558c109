"""Run the speed benchmark: the table, the four checks, JSON out, and rows in the results store."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import torch
from rich.console import Console

from seqlab.bench.speed.checks import check_finite, check_fla, check_scaling, check_scan
from seqlab.bench.speed.config import SpeedConfig
from seqlab.bench.speed.display import print_result
from seqlab.bench.speed.fla import HINT
from seqlab.bench.speed.memory import METHODS
from seqlab.bench.speed.table import time_mixers
from seqlab.registry import entries


def _load() -> list[float] | None:
    """1/5/15-minute load averages: the machine may be shared, so timings are read beside them."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def write_json(result: dict, path: str | os.PathLike) -> Path:
    """Write ``result`` atomically (temp file, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, path)
    return path


def device_kind(device: str) -> str:
    """``"cpu"`` or ``"cuda"``; a clear error for another or an unavailable device."""
    try:
        kind = torch.device(device).type
    except RuntimeError as err:
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}") from err
    if kind not in METHODS:
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA device")
    return kind


def run_speed(cfg: SpeedConfig, console: Console | None = None, store=None) -> dict:
    """Run the table and the four checks; print them, write JSON to ``cfg.out``, return the result.

    ``store``: a results store (or its path) that also receives every cell and check (kind "speed").
    """
    console = console or Console(width=200)
    if cfg.mixers:
        known = {e.name for e in entries("mixer")}
        unknown = [m for m in cfg.mixers if m not in known]
        if unknown:
            raise KeyError(f"unknown mixer {unknown[0]!r}; valid names: {', '.join(sorted(known))}")
    kind = device_kind(cfg.device)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        start, load_start = time.time(), _load()
        console.print(f"timing {len(cfg.mixers or entries('mixer'))} mixers at lengths {list(cfg.lengths)}")
        rows = time_mixers(cfg, console)
        console.print("checks (b) and (c)")
        checks = {"linear_scaling": check_scaling(rows, cfg), "scan": check_scan(cfg), "fla": check_fla(cfg)}
        if "skipped" in checks["fla"]:
            console.print(HINT, markup=False)
        console.print("check (d)")
        checks["finite"] = check_finite(cfg, rows, console)
    finally:
        torch.set_num_threads(threads)
    result = {
        "config": asdict(cfg),
        "memory_method": METHODS[kind],
        "environment": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "device_name": torch.cuda.get_device_name(cfg.device) if kind == "cuda" else platform.processor(),
            "load_avg_start": load_start,
            "load_avg_end": _load(),
            "seconds": time.time() - start,
        },
        "results": rows,
        "checks": checks,
    }
    print_result(result, console)
    path = write_json(result, cfg.out)
    console.print(f"wrote {path}")
    if store is not None:
        n = record(result, store)
        console.print(f"recorded {n} speed row(s) in {getattr(store, 'path', store)}")
    return result


# the fields of SpeedConfig that decide what one cell measures (its store key is made of these)
CELL_FIELDS = ("d_model", "batch", "threads", "device", "seed")


def speed_rows(result: dict) -> list[tuple[dict, dict]]:
    """(config, result) pairs for the store: one per measured cell and one per check."""
    cfg, env = result["config"], result["environment"]
    base = {k: cfg[k] for k in CELL_FIELDS}
    extra = {"environment": env, "memory_method": result["memory_method"]}
    out = [
        ({**base, "what": "cell", "mixer": r["mixer"], "length": r["length"]}, {**r, **extra})
        for r in result["results"]
    ]
    checks = result["checks"]
    lo, hi = cfg["scaling"]
    for name, c in checks["linear_scaling"].items():
        out.append(({**base, "what": "linear_scaling", "mixer": name, "lengths": [lo, hi]}, {**c, **extra}))
    out.append(({**base, "what": "scan", "length": cfg["scan_length"]}, {**checks["scan"], **extra}))
    if "lengths" in checks["fla"]:
        for length, c in checks["fla"]["lengths"].items():
            out.append(({**base, "what": "fla", "length": int(length)}, {**c, **extra}))
    for name, c in checks["finite"].items():
        out.append(
            ({**base, "what": "finite", "mixer": name, "length": cfg["finite_length"]}, {**c, **extra})
        )
    return out


def record(result: dict, store) -> int:
    """Write every cell and check of ``result`` into the results store as rows of kind "speed".

    ``store``: a :class:`~seqlab.experiments.store.ResultStore` or its path. A new measurement of
    the same cell replaces the old row (speed is re-measured, not resumed). Returns the row count.
    """
    from seqlab.experiments.store import ResultStore

    own = not hasattr(store, "put")
    st = ResultStore(store) if own else store
    try:
        rows = speed_rows(result)
        device = result["config"]["device"]
        for config, res in rows:
            st.put(config, res, "speed", kind="speed", device=device, replace=True)
    finally:
        if own:
            st.close()
    return len(rows)
