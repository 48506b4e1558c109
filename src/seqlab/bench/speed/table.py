"""The speed table: forward + backward time and peak memory of each mixer at each length.

Each cell times ``mixer(x).square().mean().backward()`` with ``x: (batch, length, d_model)`` through
:func:`seqlab.experiments.timing.time_cell` (warm-up until steady, median and spread of the timed
runs, flagged when the spread is too wide), then reads its peak memory on one more run
(:mod:`.memory`). A mixer is skipped at a length where the power law through its two previous
lengths predicts memory above the budget with an exponent above 1.5 (``O(L^2)``), or more time than
the cell's budget.
"""

from __future__ import annotations

import math

import torch
from rich.console import Console

from seqlab.bench.speed.config import SpeedConfig
from seqlab.bench.speed.memory import peak_mb
from seqlab.experiments.timing import time_cell
from seqlab.registry import create, entries, get

LINEAR_TIME = ("constant", "window")  # state growth whose time must scale linearly with length


def state_growth(name: str, mixer=None) -> str:
    """The mixer's declared ``state_growth`` ("constant" / "window" / "linear"): read from the built
    ``mixer`` when given (it may depend on the config, e.g. attention with a sliding window), else
    from the class (:class:`seqlab.mixers.base.Mixer` declares it once per mixer)."""
    return (mixer if mixer is not None else get("mixer", name).obj).state_growth


def build(name: str, d_model: int, seed: int, device: str = "cpu"):
    torch.manual_seed(seed)
    return create("mixer", name, d_model=d_model).to(device)


def extrapolate(points: list[tuple[int, float]], length: int) -> tuple[float, float] | None:
    """(exponent, predicted value at ``length``) of the power law through the last two points."""
    if len(points) < 2 or points[-2][1] <= 0 or points[-1][1] <= 0:
        return None
    (l1, v1), (l2, v2) = points[-2], points[-1]
    p = math.log(v2 / v1) / math.log(l2 / l1)
    return p, v2 * (length / l2) ** p


def _sync(device: str):
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else None


def _row(name: str, length: int, growth: str | None, status: str = "ok") -> dict:
    return {
        "mixer": name,
        "length": length,
        "state_growth": growth,
        "time_ms": None,
        "spread": None,
        "unreliable": None,
        "reason": None,
        "runs_ms": [],
        "warmup_runs": 0,
        "peak_mb": None,
        "status": status,
    }


def time_mixers(cfg: SpeedConfig, console: Console) -> list[dict]:
    names = list(cfg.mixers) if cfg.mixers else [e.name for e in entries("mixer")]
    rows = []
    for name in names:
        try:
            mixer = build(name, cfg.d_model, cfg.seed, cfg.device)
        except (ValueError, TypeError) as err:
            status = f"failed to build: {str(err)[:80]}"
            rows += [_row(name, n, state_growth(name), status) for n in cfg.lengths]
            console.print(f"  {name}: {status}")
            continue
        growth = state_growth(name, mixer)
        mems, times = [], []
        for length in cfg.lengths:
            row = _row(name, length, growth)
            rows.append(row)
            mem_fit, time_fit = extrapolate(mems, length), extrapolate(times, length)
            if mem_fit and mem_fit[0] > 1.5 and mem_fit[1] > cfg.memory_budget_mb:
                row["status"] = f"skipped: O(L^2) > budget ({mem_fit[1]:.0f} MiB predicted)"
            elif time_fit and time_fit[1] * (cfg.warmup + cfg.repeats + 1) > cfg.time_budget_s:
                row["status"] = f"skipped: time > budget ({time_fit[1]:.0f} s per run predicted)"
            if row["status"] != "ok":
                console.print(f"  {name} L={length}: {row['status']}")
                continue
            gen = torch.Generator().manual_seed(cfg.seed)
            x = torch.randn(cfg.batch, length, cfg.d_model, generator=gen).to(cfg.device)

            def fwd_bwd(mixer=mixer, x=x):
                mixer.zero_grad(set_to_none=True)
                mixer(x).square().mean().backward()

            try:
                t = time_cell(
                    fwd_bwd,
                    warmup=cfg.warmup,
                    max_warmup=cfg.max_warmup,
                    repeats=cfg.repeats,
                    max_repeats=cfg.max_repeats,
                    max_spread=cfg.max_spread,
                    budget_s=cfg.time_budget_s / 2,
                    sync=_sync(cfg.device),
                )
                peak = peak_mb(fwd_bwd, cfg.device)
            except (RuntimeError, MemoryError) as err:  # e.g. an allocation the machine cannot make
                row["status"] = f"failed: {type(err).__name__}: {str(err)[:80]}"
                console.print(f"  {name} L={length}: {row['status']}")
                continue
            d = t.as_dict()
            row.update(
                time_ms=d["median_ms"],
                spread=d["spread"],
                unreliable=d["unreliable"],
                reason=d["reason"],
                runs_ms=d["runs_ms"],
                warmup_runs=d["warmup_runs"],
                peak_mb=peak,
            )
            times.append((length, t.median))
            if peak:
                mems.append((length, peak))
            flag = f" UNRELIABLE ({t.reason})" if t.unreliable else ""
            sp = float("nan") if t.spread is None else t.spread
            console.print(
                f"  {name} L={length}: {t.median * 1e3:.1f} ms (spread {sp:.2f}, "
                f"{len(t.runs)} runs after {t.warmup_runs} warm-up), {peak or float('nan'):.1f} MiB{flag}"
            )
    return rows
