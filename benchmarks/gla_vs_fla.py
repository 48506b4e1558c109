"""seqlab's chunked gated linear attention beside flash-linear-attention's Triton kernels, one GPU.

    python benchmarks/gla_vs_fla.py [--batch 4 --length 4096 --heads 16 --d-head 64] [--out PATH]
    python benchmarks/gla_vs_fla.py --device cpu --batch 1 --length 256 --heads 2   # smoke run

Times forward + backward of ``o.float().square().mean()`` (median of CUDA-event-timed runs after
warm-up; on CPU, of wall-clock runs) for the recurrences fla has kernels for, on the same inputs:

- scalar gate (simple GLA, Mamba-2 SSD): fla ``chunk_simple_gla`` and ``chunk_gla`` with the gate
  broadcast over ``d_k``; fla's plain-PyTorch ``naive_chunk_simple_gla``; seqlab ``gla_chunked``;
- per-key-dim gate (GLA): fla ``chunk_gla``; seqlab ``gla_chunked``;
- seqlab ``gla_chunked(backend="triton")`` (its fused in-chunk kernels) wherever Triton can run (CUDA;
  on CPU only under ``TRITON_INTERPRET=1``, which checks values, not speed);
- fixed per-head decay (retention): fla ``chunk_retention``; seqlab ``gla_chunked`` with that decay;
- reference: causal ``scaled_dot_product_attention`` on the same q, k, v.

seqlab's path runs eager with bf16 and fp32 inputs, and under ``torch.compile`` with bf16. Every output is
compared with seqlab's float64 ``gla_chunked`` (itself tested against the step-by-step recurrence):
``rel_err = |o - ref| / |ref|``. A row whose kernel fails (fla refuses ``chunk_simple_gla``'s backward
on Hopper with some Triton versions) is kept with its error message. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from seqlab.bench.speed import load_fla_naive, write_json
from seqlab.ops import gla_triton
from seqlab.ops.gla import gla_chunked


def _fla_kernels() -> dict:
    """fla's Triton entry points by name, or the import error (fla needs Triton and a GPU)."""
    try:
        from fla.ops.gla import chunk_gla
        from fla.ops.retention import chunk_retention
        from fla.ops.simple_gla import chunk_simple_gla
    except Exception as err:  # noqa: BLE001 - any import failure means "not available here"
        return {"error": f"{type(err).__name__}: {err}"}
    return {"chunk_gla": chunk_gla, "chunk_simple_gla": chunk_simple_gla, "chunk_retention": chunk_retention}


def _time(fn, device: str, warmup: int, repeats: int) -> float:
    """Median milliseconds of ``fn()``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _inputs(args, gate: str, dtype: torch.dtype):
    """fla layout ``(B, T, H, D)``; log-gates ``(B, T, H)`` (scalar, retention) or ``(B, T, H, D)``."""
    g = torch.Generator().manual_seed(args.seed)
    shape = (args.batch, args.length, args.heads, args.d_head)
    q = torch.randn(shape, generator=g) * args.d_head**-0.5
    k = torch.randn(shape, generator=g)
    v = torch.randn(shape, generator=g)
    if gate == "retention":
        decay = (1 - 2.0 ** (-5.0 - torch.arange(args.heads, dtype=torch.float64))).log()
        log_g = decay.expand(args.batch, args.length, args.heads).clone()
    elif gate == "scalar":
        log_g = F.logsigmoid(torch.randn(shape[:3], generator=g, dtype=torch.float64) + 4.0)
    else:  # GLA's gate: logsigmoid(x) / 16
        log_g = F.logsigmoid(torch.randn(shape, generator=g, dtype=torch.float64)) / 16
    return [t.to(args.device, dtype) for t in (q, k, v)], log_g.to(args.device)


def _seqlab(compiled, backend="torch"):
    fn = torch.compile(gla_chunked) if compiled else gla_chunked

    def run(q, k, v, log_g):  # (B, T, H, D) in and out, seqlab's (B, H, T, D) inside
        qkv = (t.transpose(1, 2) for t in (q, k, v))
        o, _ = fn(*qkv, log_g.transpose(1, 2).to(q.dtype), backend=backend)
        return o.transpose(1, 2)

    return run


def _candidates(fla: dict, naive, gate: str, compile_: bool, triton_ok: bool = False) -> dict:
    """name -> (dtype, fn(q, k, v, log_g) -> o in (B, T, H, D)) for one gate kind."""
    rows = {}
    for dtype_name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        rows[f"seqlab gla_chunked {dtype_name}"] = (dtype, _seqlab(False))
        if triton_ok:  # seqlab's fused in-chunk kernels (seqlab.ops.gla_triton)
            rows[f"seqlab gla_chunked triton {dtype_name}"] = (dtype, _seqlab(False, "triton"))
    if "error" not in fla:
        if gate == "scalar":
            rows["fla chunk_simple_gla bf16"] = (
                torch.bfloat16,
                lambda q, k, v, lg: fla["chunk_simple_gla"](q, k, v, g=lg.float(), scale=1.0)[0],
            )
        if gate in ("scalar", "per_dim"):
            rows["fla chunk_gla bf16"] = (
                torch.bfloat16,
                lambda q, k, v, lg: fla["chunk_gla"](
                    q, k, v, (lg if lg.dim() == 4 else lg[..., None].expand_as(q)).float(), scale=1.0
                )[0],
            )
        if gate == "retention":
            rows["fla chunk_retention bf16"] = (
                torch.bfloat16,
                lambda q, k, v, lg: fla["chunk_retention"](q, k, v, scale=1.0)[0],
            )
    if compile_ and gate != "retention":  # retention runs the scalar-gate code: compile it once
        rows["seqlab gla_chunked compiled bf16"] = (torch.bfloat16, _seqlab(True))
    if naive is not None and gate != "per_dim":
        rows["fla naive_chunk_simple_gla (PyTorch) fp32"] = (
            torch.float32,
            lambda q, k, v, lg: naive(q, k, v, lg.float(), scale=1.0)[0],
        )
    rows["causal SDPA bf16 (softmax, not the same function)"] = (
        torch.bfloat16,
        lambda q, k, v, lg: F.scaled_dot_product_attention(
            *(t.transpose(1, 2) for t in (q, k, v)), is_causal=True
        ).transpose(1, 2),
    )
    return rows


def run(args) -> dict:
    fla, naive = _fla_kernels(), load_fla_naive()
    result = {
        "config": vars(args),
        "environment": {
            "torch": torch.__version__,
            "device_name": (
                torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
            ),
            "fla": fla.get("error", "ok"),
        },
        "rows": [],
    }
    for gate in args.gates.split(","):
        (q64, k64, v64), lg64 = _inputs(args, gate, torch.float64)
        ref = gla_chunked(*(t.transpose(1, 2) for t in (q64, k64, v64)), lg64.transpose(1, 2))[0]
        ref = ref.transpose(1, 2)
        triton_ok = gla_triton.usable(torch.device(args.device))
        for name, (dtype, fn) in _candidates(fla, naive, gate, args.compile, triton_ok).items():
            row = {"gate": gate, "name": name}
            result["rows"].append(row)
            (q, k, v), lg = _inputs(args, gate, dtype)
            leaves = [t.requires_grad_() for t in (q, k, v)]

            def fwd_bwd(fn=fn, leaves=leaves, lg=lg):
                for t in leaves:
                    t.grad = None
                fn(*leaves, lg).float().square().mean().backward()

            try:
                with torch.no_grad():
                    o = fn(q, k, v, lg).double()
                row["rel_err"] = float((o - ref).norm() / ref.norm())
                row["ms"] = _time(fwd_bwd, args.device, args.warmup, args.repeats)
            except Exception as err:  # noqa: BLE001 - a failing kernel is a result, not a crash
                row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
            print(
                f"{gate:9s} {name:52s} "
                + (
                    f"{row['ms']:9.2f} ms  rel_err {row['rel_err']:.1e}"
                    if "ms" in row
                    else f"failed: {row['error']}"
                ),
                flush=True,
            )
            write_json(result, args.out)
    _ratios(result)
    write_json(result, args.out)
    return result


def _ratios(result: dict) -> None:
    """seqlab's best time over fla's Triton time per gate kind (> 1: seqlab slower)."""
    result["ratios"] = {}
    for gate in ("scalar", "per_dim", "retention"):
        rows = [r for r in result["rows"] if r["gate"] == gate and "ms" in r]
        ours = [r for r in rows if r["name"].startswith("seqlab")]
        fla = [r for r in rows if r["name"].startswith("fla chunk")]
        if ours and fla:
            best, theirs = min(ours, key=lambda r: r["ms"]), min(fla, key=lambda r: r["ms"])
            result["ratios"][gate] = {
                "seqlab": best["name"],
                "seqlab_ms": best["ms"],
                "fla": theirs["name"],
                "fla_ms": theirs["ms"],
                "seqlab_over_fla": best["ms"] / theirs["ms"],
            }
    print("\nseqlab best / fla Triton best, fwd+bwd:")
    for gate, r in result["ratios"].items():
        print(
            f"  {gate:9s} {r['seqlab']} {r['seqlab_ms']:.2f} ms / {r['fla']} {r['fla_ms']:.2f} ms "
            f"= {r['seqlab_over_fla']:.2f}x"
        )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--length", type=int, default=4096)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--d-head", type=int, default=64)
    p.add_argument("--device", default="cuda")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/gla_vs_fla.json")
    p.add_argument("--no-compile", dest="compile", action="store_false", help="skip torch.compile rows")
    p.add_argument("--gates", default="scalar,per_dim,retention", help="comma-separated gate kinds to run")
    args = p.parse_args(argv)
    if not args.gates or set(args.gates.split(",")) - {"scalar", "per_dim", "retention"}:
        p.error(f"--gates takes scalar, per_dim, retention; got {args.gates!r}")
    if min(args.batch, args.length, args.heads, args.d_head, args.repeats) < 1:
        p.error("batch, length, heads, d-head and repeats must be >= 1")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error("--device cuda asked for, but torch sees no CUDA device (use --device cpu for a smoke run)")
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
