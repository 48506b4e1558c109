"""The four checks of the speed benchmark.

(a) linear scaling: every mixer whose state is constant or a fixed window (``state_growth``) has
    ``time(L_hi) / time(L_lo) <= bound`` (1.5x the length ratio: 24 for 16384 / 1024);
(b) :func:`~seqlab.ops.scan.scan_chunked` vs :func:`~seqlab.ops.scan.scan_sequential` (fwd+bwd) on a
    diagonal recurrence: speed-up >= 10;
(c) :func:`~seqlab.ops.gla.gla_chunked` vs flash-linear-attention's plain-PyTorch
    ``naive_chunk_simple_gla`` on the same scalar-decay recurrence, fwd+bwd, timed in alternation:
    same output, speed-up >= 2;
(d) every mixer's forward at a long length (fp32, batch 1, small d_model) is finite.

Each timed check carries a ``verdict``: PASS / FAIL, ``n/a`` when not measured, and ``unreliable``
when a timing it rests on was flagged (:func:`seqlab.experiments.timing.verdict`).
"""

from __future__ import annotations

import time

import torch
from rich.console import Console

from seqlab.bench.speed.config import SpeedConfig
from seqlab.bench.speed.fla import HINT, load_fla_naive
from seqlab.bench.speed.table import LINEAR_TIME, build, extrapolate
from seqlab.experiments.timing import time_cell, time_pair, verdict
from seqlab.ops.gla import gla_chunked
from seqlab.ops.scan import scan_chunked, scan_sequential


def _sync(device: str):
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else None


def check_scaling(rows: list[dict], cfg: SpeedConfig) -> dict:
    """(a): the time ratio between the two scaling lengths of each linear-time mixer."""
    lo, hi = cfg.scaling
    bound = 1.5 * hi / lo
    out = {}
    for name in dict.fromkeys(r["mixer"] for r in rows):
        by_len = {r["length"]: r for r in rows if r["mixer"] == name}
        growth = next(iter(by_len.values()))["state_growth"]
        if growth not in LINEAR_TIME:
            continue
        cells = [by_len.get(n) for n in (lo, hi)]
        if any(c is None or c["time_ms"] is None for c in cells):
            out[name] = {
                "state_growth": growth,
                "ratio": None,
                "bound": bound,
                "pass": None,
                "verdict": "n/a",
                "note": "not measured at both lengths",
            }
            continue
        ratio = cells[1]["time_ms"] / cells[0]["time_ms"]
        out[name] = {
            "state_growth": growth,
            "ratio": ratio,
            "bound": bound,
            "pass": ratio <= bound,
            "verdict": verdict(ratio <= bound, *cells),
        }
    return out


def check_scan(cfg: SpeedConfig) -> dict:
    """(b): chunked scan vs the step loop, forward + backward."""
    g = torch.Generator().manual_seed(cfg.seed)
    shape = (cfg.batch, cfg.scan_length, cfg.d_model)
    a = (0.5 + 0.5 * torch.rand(shape, generator=g)).to(cfg.device).requires_grad_()
    b = torch.randn(shape, generator=g).to(cfg.device).requires_grad_()

    def run(fn):
        def go():
            a.grad = b.grad = None
            fn(a, b).square().mean().backward()

        return go

    diff = (scan_chunked(a, b) - scan_sequential(a, b)).abs().max().item()
    kw = dict(
        warmup=cfg.warmup,
        max_warmup=cfg.max_warmup,
        repeats=cfg.check_repeats,
        max_repeats=cfg.check_repeats,
        max_spread=cfg.max_spread,
        sync=_sync(cfg.device),
    )
    t_seq, t_chk = time_cell(run(scan_sequential), **kw), time_cell(run(scan_chunked), **kw)
    speedup = t_seq.median / t_chk.median
    return {
        "length": cfg.scan_length,
        "shape": list(shape),
        "sequential_ms": t_seq.median * 1e3,
        "chunked_ms": t_chk.median * 1e3,
        "sequential": t_seq.as_dict(),
        "chunked": t_chk.as_dict(),
        "speedup": speedup,
        "max_abs_diff": diff,
        "required": cfg.scan_min_speedup,
        "pass": speedup >= cfg.scan_min_speedup,
        "verdict": verdict(speedup >= cfg.scan_min_speedup, t_seq, t_chk),
    }


def check_fla(cfg: SpeedConfig, heads: int = 4, d_head: int = 64, chunk: int = 64, naive=None) -> dict:
    """(c): ``gla_chunked`` vs fla's PyTorch chunk reference (skipped with a hint without fla)."""
    naive = naive or load_fla_naive()
    if naive is None:
        return {"skipped": HINT}
    out = {
        "batch": 1,
        "heads": heads,
        "d_head": d_head,
        "chunk": chunk,
        "required": cfg.fla_min_speedup,
        "lengths": {},
    }
    for length in cfg.fla_lengths:
        g = torch.Generator().manual_seed(cfg.seed)
        # fla's layout: (batch, length, heads, dim), log-gates (batch, length, heads)
        q = torch.randn(1, length, heads, d_head, generator=g) * d_head**-0.5
        k = torch.randn(1, length, heads, d_head, generator=g)
        v = torch.randn(1, length, heads, d_head, generator=g)
        log_g = -0.1 * torch.rand(1, length, heads, generator=g)
        fla_in = [t.to(cfg.device).requires_grad_() for t in (q, k, v, log_g)]
        ours_in = [t.transpose(1, 2).contiguous().to(cfg.device).requires_grad_() for t in (q, k, v, log_g)]

        def run_fla(fla_in=fla_in):
            naive(*fla_in, chunk_size=chunk, scale=1.0)[0].square().mean().backward()

        def run_ours(ours_in=ours_in):
            gla_chunked(*ours_in, chunk=chunk)[0].square().mean().backward()

        with torch.no_grad():
            o_fla = naive(*fla_in, chunk_size=chunk, scale=1.0)[0]
            o_ours = gla_chunked(*ours_in, chunk=chunk)[0].transpose(1, 2)
        t_fla, t_ours = time_pair(
            run_fla,
            run_ours,
            warmup=max(cfg.warmup, 1),
            repeats=cfg.check_repeats,
            max_spread=cfg.max_spread,
            sync=_sync(cfg.device),
        )
        diff = (o_fla - o_ours).abs().max().item()
        speedup = t_fla.median / t_ours.median
        out["lengths"][str(length)] = {
            "fla_ms": t_fla.median * 1e3,
            "seqlab_ms": t_ours.median * 1e3,
            "fla": t_fla.as_dict(),
            "seqlab": t_ours.as_dict(),
            "speedup": speedup,
            "max_abs_diff": diff,
            "same_output": diff <= 1e-4 * max(1.0, o_fla.abs().max().item()),
            "pass": speedup >= cfg.fla_min_speedup,
            "verdict": verdict(speedup >= cfg.fla_min_speedup, t_fla, t_ours),
        }
    return out


def check_finite(cfg: SpeedConfig, rows: list[dict], console: Console) -> dict:
    """(d): each mixer's forward at ``cfg.finite_length`` is finite (O(L^2) mixers over budget skipped)."""
    names = list(dict.fromkeys(r["mixer"] for r in rows))
    out = {}
    for name in names:
        mine = [r for r in rows if r["mixer"] == name]
        mems = [(r["length"], r["peak_mb"]) for r in mine if r["peak_mb"]]
        fit = extrapolate(mems, cfg.finite_length)
        if any(r["status"].startswith("skipped: O(L^2)") for r in mine) or (
            fit and fit[0] > 1.5 and fit[1] > cfg.memory_budget_mb
        ):
            out[name] = {"finite": None, "note": "skipped: O(L^2) > budget"}
            console.print(f"  {name} L={cfg.finite_length}: skipped: O(L^2) > budget")
            continue
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(1, cfg.finite_length, cfg.finite_d_model, generator=gen).to(cfg.device)
        t0 = time.perf_counter()
        try:
            mixer = build(name, cfg.finite_d_model, cfg.seed, cfg.device).eval()
            with torch.no_grad():
                y = mixer(x)
            out[name] = {"finite": bool(torch.isfinite(y).all()), "seconds": time.perf_counter() - t0}
        except (RuntimeError, MemoryError, ValueError, TypeError) as err:
            out[name] = {"finite": None, "note": f"failed: {type(err).__name__}: {str(err)[:80]}"}
        console.print(f"  {name} L={cfg.finite_length}: {out[name]}")
    return out
