"""Speed benchmark of every registered mixer, plus four checks of the fast paths (not a test).

For each mixer (iterating the registry) and length it times forward + backward of
``mixer(x).square().mean()`` with ``x: (batch, length, d_model)`` on ``device`` (CPU by default),
the median of ``repeats`` runs after ``warmup`` runs, and its peak memory. On CPU that is the process
resident-set high-water mark, reset before each run (``/proc/self/clear_refs``, after
``malloc_trim``), minus the resident set at the start of the run; on CUDA it is
``torch.cuda.max_memory_allocated`` minus the memory allocated at the start, and each run is
bracketed by ``torch.cuda.synchronize``. A mixer is skipped at a length where the power law fitted
to its two previous lengths predicts memory above ``memory_budget_mb`` with exponent > 1.5
(``O(L^2)``), or run time above ``time_budget_s`` (all runs of the cell together).

Checks:
(a) linear scaling: every recurrent mixer (step mode, state not growing with L) has
    ``time(L_hi) / time(L_lo) <= bound`` (1.5x the length ratio: 24 for 16384 / 1024);
(b) :func:`~seqlab.ops.scan.scan_chunked` vs :func:`~seqlab.ops.scan.scan_sequential` (fwd+bwd) on a
    diagonal recurrence: speed-up >= 10;
(c) :func:`~seqlab.ops.gla.gla_chunked` vs flash-linear-attention's plain-PyTorch
    ``naive_chunk_simple_gla`` (``fla/ops/simple_gla/naive.py`` loaded by file path, no Triton) on
    the same scalar-decay recurrence, fwd+bwd: same output, speed-up >= 2;
(d) every mixer's forward at a long length (fp32, batch 1, small d_model) is finite.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import math
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from seqlab.ops.gla import gla_chunked
from seqlab.ops.scan import scan_chunked, scan_sequential
from seqlab.registry import create, entries

FLA_HINT = "flash-linear-attention is not installed: `pip install seqlab[bench]` to run check (c)"


@dataclass
class SpeedConfig:
    lengths: tuple[int, ...] = (256, 1024, 4096, 16384)
    mixers: tuple[str, ...] | None = None  # None: every registered mixer
    d_model: int = 128
    batch: int = 2
    threads: int = 2
    warmup: int = 1
    repeats: int = 3
    memory_budget_mb: float = 2048.0
    time_budget_s: float = 120.0
    check_repeats: int = 7
    scaling: tuple[int, int] = (1024, 16384)
    scan_length: int = 4096
    scan_min_speedup: float = 10.0
    fla_lengths: tuple[int, ...] = (1024, 4096)
    fla_min_speedup: float = 2.0
    finite_length: int = 65536
    finite_d_model: int = 16
    seed: int = 0
    device: str = "cpu"
    out: str = "results/speed.json"


def quick_config(**kw) -> SpeedConfig:
    """A tiny smoke run (seconds): short lengths, one repeat, small model."""
    cfg = dict(
        lengths=(16, 64),
        d_model=16,
        warmup=1,
        repeats=1,
        scaling=(16, 64),
        scan_length=256,
        fla_lengths=(128,),
        finite_length=512,
        time_budget_s=10.0,
        check_repeats=1,
    )
    cfg.update(kw)
    return SpeedConfig(**cfg)


# -- memory: resident-set high-water mark -----------------------------------------------------------
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


MEMORY_METHODS = {
    "cpu": "RSS high-water delta (VmHWM reset via /proc/self/clear_refs)",
    "cuda": "torch.cuda.max_memory_allocated delta",
}


def _timed_cpu(fn: Callable[[], None]) -> tuple[float, float | None]:
    _trim()
    ok = _reset_peak()
    base = _status_kb("VmRSS")
    t0 = time.perf_counter()
    fn()
    sec = time.perf_counter() - t0
    hwm = _status_kb("VmHWM")
    return sec, (max(hwm - base, 0) / 1024 if ok and base is not None and hwm is not None else None)


def _timed_cuda(fn: Callable[[], None]) -> tuple[float, float | None]:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    return sec, (torch.cuda.max_memory_allocated() - base) / 2**20


def _timed_only(fn: Callable[[], None]) -> tuple[float, None]:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0, None


def measure(
    fn: Callable[[], None], warmup: int, repeats: int, device: str = "cpu", memory: bool = True
) -> tuple[float, float | None]:
    """(median seconds, max peak-memory MiB or None) of ``fn`` after ``warmup`` calls.

    ``memory=False`` times the steady state only: on CPU the peak-memory reading trims the heap
    before each run (``malloc_trim``), so every run first faults its pages back in.
    """
    cuda = torch.device(device).type == "cuda"
    timed = _timed_cuda if cuda else (_timed_cpu if memory else _timed_only)
    for _ in range(warmup):
        fn()
    runs = [timed(fn) for _ in range(repeats)]
    peaks = [p for _, p in runs if p is not None]
    return statistics.median(t for t, _ in runs), (max(peaks) if peaks else None)


def measure_pair(fn_a, fn_b, warmup: int, repeats: int, device: str = "cpu") -> tuple[float, float]:
    """Median seconds of two functions timed in alternation (a, b, a, b, ...), steady state: a
    ratio of the two is not skewed by the machine's load drifting between two separate series."""
    timed = _timed_cuda if torch.device(device).type == "cuda" else _timed_only
    for _ in range(warmup):
        fn_a(), fn_b()
    pairs = [(timed(fn_a)[0], timed(fn_b)[0]) for _ in range(repeats)]
    return statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs)


# -- the mixer table ---------------------------------------------------------------------------------
def _is_recurrent(mixer) -> bool:
    return "step" in mixer.modes and not re.search(r"\bL\b|max_len", str(mixer.state_size))


def _build(name: str, d_model: int, seed: int, device: str = "cpu"):
    torch.manual_seed(seed)
    return create("mixer", name, d_model=d_model).to(device)


def _extrapolate(points: list[tuple[int, float]], length: int) -> tuple[float, float] | None:
    """(exponent, predicted value at ``length``) from the last two (length, value) points."""
    if len(points) < 2 or points[-2][1] <= 0 or points[-1][1] <= 0:
        return None
    (l1, v1), (l2, v2) = points[-2], points[-1]
    p = math.log(v2 / v1) / math.log(l2 / l1)
    return p, v2 * (length / l2) ** p


def time_mixers(cfg: SpeedConfig, console: Console) -> list[dict]:
    names = list(cfg.mixers) if cfg.mixers else [e.name for e in entries("mixer")]
    rows = []
    for name in names:
        try:
            mixer = _build(name, cfg.d_model, cfg.seed, cfg.device)
        except (ValueError, TypeError) as err:
            rows += [
                {
                    "mixer": name,
                    "length": n,
                    "recurrent": False,
                    "time_ms": None,
                    "peak_mb": None,
                    "status": f"failed to build: {str(err)[:80]}",
                }
                for n in cfg.lengths
            ]
            console.print(f"  {name}: {rows[-1]['status']}")
            continue
        recurrent = _is_recurrent(mixer)
        mems, times = [], []
        for length in cfg.lengths:
            row = {
                "mixer": name,
                "length": length,
                "recurrent": recurrent,
                "time_ms": None,
                "peak_mb": None,
                "status": "ok",
            }
            rows.append(row)
            mem_fit, time_fit = _extrapolate(mems, length), _extrapolate(times, length)
            if mem_fit and mem_fit[0] > 1.5 and mem_fit[1] > cfg.memory_budget_mb:
                row["status"] = f"skipped: O(L^2) > budget ({mem_fit[1]:.0f} MiB predicted)"
            elif time_fit and time_fit[1] * (cfg.warmup + cfg.repeats) > cfg.time_budget_s:
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
                sec, peak = measure(fwd_bwd, cfg.warmup, cfg.repeats, cfg.device)
            except (RuntimeError, MemoryError) as err:  # e.g. an allocation the machine cannot make
                row["status"] = f"failed: {type(err).__name__}: {str(err)[:80]}"
                console.print(f"  {name} L={length}: {row['status']}")
                continue
            row["time_ms"], row["peak_mb"] = sec * 1e3, peak
            times.append((length, sec))
            if peak:
                mems.append((length, peak))
            console.print(f"  {name} L={length}: {sec * 1e3:.1f} ms, {peak or float('nan'):.1f} MiB")
    return rows


def check_scaling(rows: list[dict], cfg: SpeedConfig) -> dict:
    lo, hi = cfg.scaling
    bound = 1.5 * hi / lo
    out = {}
    for name in dict.fromkeys(r["mixer"] for r in rows):
        by_len = {r["length"]: r for r in rows if r["mixer"] == name}
        if not by_len[next(iter(by_len))]["recurrent"]:
            continue
        t_lo, t_hi = (by_len.get(n, {}).get("time_ms") for n in (lo, hi))
        if t_lo is None or t_hi is None:
            out[name] = {"ratio": None, "bound": bound, "pass": None, "note": "not measured at both lengths"}
        else:
            out[name] = {"ratio": t_hi / t_lo, "bound": bound, "pass": t_hi / t_lo <= bound}
    return out


# -- (b) chunked scan vs the step loop ----------------------------------------------------------------
def check_scan(cfg: SpeedConfig) -> dict:
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
    t_seq, _ = measure(run(scan_sequential), cfg.warmup, cfg.check_repeats, cfg.device, memory=False)
    t_chk, _ = measure(run(scan_chunked), cfg.warmup, cfg.check_repeats, cfg.device, memory=False)
    speedup = t_seq / t_chk
    return {
        "length": cfg.scan_length,
        "shape": list(shape),
        "sequential_ms": t_seq * 1e3,
        "chunked_ms": t_chk * 1e3,
        "speedup": speedup,
        "max_abs_diff": diff,
        "required": cfg.scan_min_speedup,
        "pass": speedup >= cfg.scan_min_speedup,
    }


# -- (c) flash-linear-attention's naive chunk reference -----------------------------------------------
def load_fla_naive():
    """``naive_chunk_simple_gla`` loaded from its file (importing ``fla`` would import Triton); or None."""
    try:
        spec = importlib.util.find_spec("fla")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations or importlib.util.find_spec("einops") is None:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "ops" / "simple_gla" / "naive.py"
    if not path.is_file():
        return None
    mod_spec = importlib.util.spec_from_file_location("_fla_simple_gla_naive", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module.naive_chunk_simple_gla


def check_fla(cfg: SpeedConfig, heads: int = 4, d_head: int = 64, chunk: int = 64) -> dict:
    naive = load_fla_naive()
    if naive is None:
        return {"skipped": FLA_HINT}
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
        t_fla, t_ours = measure_pair(run_fla, run_ours, cfg.warmup, cfg.check_repeats, cfg.device)
        diff = (o_fla - o_ours).abs().max().item()
        out["lengths"][str(length)] = {
            "fla_ms": t_fla * 1e3,
            "seqlab_ms": t_ours * 1e3,
            "speedup": t_fla / t_ours,
            "max_abs_diff": diff,
            "same_output": diff <= 1e-4 * max(1.0, o_fla.abs().max().item()),
            "pass": t_fla / t_ours >= cfg.fla_min_speedup,
        }
    return out


# -- (d) finite outputs at a long length -------------------------------------------------------------
def check_finite(cfg: SpeedConfig, rows: list[dict], console: Console) -> dict:
    names = list(dict.fromkeys(r["mixer"] for r in rows))
    out = {}
    for name in names:
        mine = [r for r in rows if r["mixer"] == name]
        mems = [(r["length"], r["peak_mb"]) for r in mine if r["peak_mb"]]
        fit = _extrapolate(mems, cfg.finite_length)
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
            mixer = _build(name, cfg.finite_d_model, cfg.seed, cfg.device).eval()
            with torch.no_grad():
                y = mixer(x)
            finite = bool(torch.isfinite(y).all())
            out[name] = {"finite": finite, "seconds": time.perf_counter() - t0}
        except (RuntimeError, MemoryError, ValueError, TypeError) as err:
            out[name] = {"finite": None, "note": f"failed: {type(err).__name__}: {str(err)[:80]}"}
        console.print(f"  {name} L={cfg.finite_length}: {out[name]}")
    return out


# -- driver ------------------------------------------------------------------------------------------
def _print_tables(result: dict, console: Console) -> None:
    cfg = result["config"]
    table = Table(
        title=f"fwd+bwd time (ms) / peak memory (MiB, {result['memory_method']}); "
        f"d_model={cfg['d_model']}, batch={cfg['batch']}, "
        + (result["environment"]["device_name"] if cfg["device"] != "cpu" else f"{cfg['threads']} threads")
    )
    table.add_column("mixer")
    for length in cfg["lengths"]:
        table.add_column(f"L={length}", justify="right")
    for name in dict.fromkeys(r["mixer"] for r in result["results"]):
        cells = []
        for r in (r for r in result["results"] if r["mixer"] == name):
            if r["time_ms"] is None:
                cells.append(r["status"])
            else:
                mem = "?" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}"
                cells.append(f"{r['time_ms']:.1f} / {mem}")
        table.add_row(name, *cells)
    console.print(table)
    checks = result["checks"]
    lo, hi = cfg["scaling"]
    console.print(f"(a) linear scaling, time(L={hi}) / time(L={lo}) <= {1.5 * hi / lo:g}:")
    for name, c in checks["linear_scaling"].items():
        verdict = "n/a" if c["pass"] is None else ("PASS" if c["pass"] else "FAIL")
        ratio = "-" if c["ratio"] is None else f"{c['ratio']:.1f}"
        console.print(f"    {name:18s} {ratio:>7s}  {verdict}")
    s = checks["scan"]
    console.print(
        f"(b) scan_chunked vs sequential loop at L={s['length']}: {s['sequential_ms']:.1f} ms vs "
        f"{s['chunked_ms']:.1f} ms = {s['speedup']:.1f}x (need >= {s['required']:g}x) "
        f"{'PASS' if s['pass'] else 'FAIL'}, max |diff| {s['max_abs_diff']:.1e}"
    )
    f = checks["fla"]
    if "skipped" in f:
        console.print(f"(c) skipped: {f['skipped']}")
    for length, c in f.get("lengths", {}).items():
        console.print(
            f"(c) fla naive_chunk_simple_gla vs gla_chunked at L={length}: {c['fla_ms']:.1f} ms vs "
            f"{c['seqlab_ms']:.1f} ms = {c['speedup']:.2f}x (need >= {f['required']:g}x) "
            f"{'PASS' if c['pass'] else 'FAIL'}; max |diff| {c['max_abs_diff']:.1e} "
            f"({'same' if c['same_output'] else 'DIFFERENT'} output)"
        )
    console.print(f"(d) finite forward at L={cfg['finite_length']}, d_model={cfg['finite_d_model']}:")
    for name, c in checks["finite"].items():
        verdict = c.get("note") or ("PASS" if c["finite"] else "FAIL: non-finite output")
        console.print(f"    {name:18s} {verdict}")


def _load() -> list[float] | None:
    """1/5/15-minute load averages: the machine is shared, so timings are read beside them."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def write_json(result: dict, path: str | os.PathLike) -> Path:
    """Write ``result`` atomically (temp file, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, path)
    return path


def _device_kind(device: str) -> str:
    """``"cpu"`` or ``"cuda"``; a clear error for another or an unavailable device."""
    try:
        kind = torch.device(device).type
    except RuntimeError as err:
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}") from err
    if kind not in MEMORY_METHODS:
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA device")
    return kind


def run_speed(cfg: SpeedConfig, console: Console | None = None) -> dict:
    """Run the table and the four checks; print them, write JSON to ``cfg.out``, return the result."""
    console = console or Console(width=200)
    if any(n < 1 for n in cfg.lengths) or not cfg.lengths:
        raise ValueError(f"lengths must be positive ints, got {cfg.lengths}")
    if cfg.mixers:
        known = {e.name for e in entries("mixer")}
        unknown = [m for m in cfg.mixers if m not in known]
        if unknown:
            raise KeyError(f"unknown mixer {unknown[0]!r}; valid names: {', '.join(sorted(known))}")
    kind = _device_kind(cfg.device)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        start, load_start = time.time(), _load()
        console.print(f"timing {len(cfg.mixers or entries('mixer'))} mixers at lengths {list(cfg.lengths)}")
        rows = time_mixers(cfg, console)
        console.print("checks (b) and (c)")
        checks = {"linear_scaling": check_scaling(rows, cfg), "scan": check_scan(cfg), "fla": check_fla(cfg)}
        if "skipped" in checks["fla"]:
            console.print(FLA_HINT)
        console.print("check (d)")
        checks["finite"] = check_finite(cfg, rows, console)
    finally:
        torch.set_num_threads(threads)
    result = {
        "config": asdict(cfg),
        "memory_method": MEMORY_METHODS[kind],
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
    _print_tables(result, console)
    path = write_json(result, cfg.out)
    console.print(f"wrote {path}")
    return result


# -- command-line options shared by `seqlab speed` and benchmarks/mixers.py -------------------------------
def _ints(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise ValueError(f"expected comma-separated positive ints, got {text!r}") from err
    if not vals or min(vals) < 1:
        raise ValueError(f"expected comma-separated positive ints, got {text!r}")
    return vals


def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true", help="tiny smoke run (short lengths, one repeat)")
    p.add_argument("--lengths", default=None, help="comma-separated lengths (default 256,1024,4096,16384)")
    p.add_argument("--mixers", default=None, help="comma-separated mixer names (default: every registered)")
    p.add_argument("--out", default="results/speed.json", help="JSON output path")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per cell (median reported)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--device", default="cpu", help="torch device to time on: cpu (default) or cuda[:N]")
    p.add_argument(
        "--memory-budget-mb",
        type=float,
        default=2048.0,
        help="skip O(L^2)-memory mixers predicted above this peak",
    )


def config_from_args(args) -> SpeedConfig:
    kw = {
        "out": args.out,
        "threads": args.threads,
        "memory_budget_mb": args.memory_budget_mb,
        "device": args.device,
    }
    if args.lengths:
        kw["lengths"] = _ints(args.lengths)
    if args.mixers:
        kw["mixers"] = tuple(m.strip() for m in args.mixers.split(",") if m.strip())
    if args.repeats is not None:
        if args.repeats < 1:
            raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
        kw["repeats"] = args.repeats
    cfg = quick_config(**kw) if args.quick else SpeedConfig(**kw)
    if args.lengths and not set(cfg.scaling) <= set(cfg.lengths):  # scale check across the given range
        cfg.scaling = (min(cfg.lengths), max(cfg.lengths))
    return cfg
