"""Communication and time of DSP, Ulysses and ring attention on a spatial-temporal transformer (CPU gloo).

    PYTHONPATH=src python benchmarks/sequence_parallel.py [--worlds 2 4] [--time 16 --space 16]
        [--d-model 64 --heads 8 --layers 2 --batch 2] [--repeats 5] [--out PATH]

For each world size ``P`` it forks ``P`` local gloo ranks (127.0.0.1) and, for each scheme of
:mod:`seqlab.models.spatiotemporal`, runs forward + backward of the same model on the same grid:

- bytes one rank sends per layer, forward and backward, counted by :mod:`seqlab.parallel.comm`;
- median wall time of forward + backward over ``--repeats`` runs after one warm-up (the slowest
  rank's median), and the time of the whole grid in one process for reference;
- both as ratios to DSP.

Times on a shared CPU with gloo over loopback say little about a GPU cluster (a 2-core machine
running 4 ranks oversubscribes its cores); the byte counts are exact and machine-independent.
Prints a table and writes JSON (default benchmarks/results/cpu-2core/sequence_parallel.json).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from seqlab.bench.speed import write_json
from seqlab.models.spatiotemporal import SpatialTemporalTransformer, shard_grid
from seqlab.parallel.comm import COUNTER, sum_grads
from seqlab.parallel.launch import run_local

SCHEMES = ("dsp", "ulysses", "ring")


def _setup(args):
    torch.manual_seed(0)
    model = SpatialTemporalTransformer(args.d_model, args.heads, args.layers)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, args.time, args.space, args.d_model, generator=g)
    return model, x


def _step(model, x, scheme):
    model.zero_grad(set_to_none=True)
    xs = x.clone().requires_grad_(True)
    model(xs, scheme).square().mean().backward()
    if scheme != "none":
        sum_grads(model)


def _median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _worker(rank, world, args):
    model, x = _setup(args)
    rows = {}
    for scheme in SCHEMES:
        xs = shard_grid(x, scheme, rank, world)
        COUNTER.reset()
        _step(model, xs, scheme)
        fwd, bwd = COUNTER.forward, COUNTER.backward
        torch.distributed.barrier()
        ms = _median_ms(lambda xs=xs, scheme=scheme: _step(model, xs, scheme), args.repeats)
        rows[scheme] = {
            "fwd_bytes_per_layer": fwd / args.layers,
            "bwd_bytes_per_layer": bwd / args.layers,
            "ms": ms,
        }
    return rows


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worlds", type=int, nargs="+", default=[2, 4])
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--time", type=int, default=16)
    p.add_argument("--space", type=int, default=16)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/cpu-2core/sequence_parallel.json")
    args = p.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each rank runs
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args) -> dict:
    model, x = _setup(args)
    single_ms = _median_ms(lambda: _step(model, x, "none"), args.repeats)
    act_bytes = x.numel() * x.element_size()
    result = {
        "benchmark": "sequence_parallel",
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, shared with other jobs; gloo over 127.0.0.1",
        "torch": torch.__version__,
        "config": vars(args),
        "activation_bytes": act_bytes,
        "single_process_ms": single_ms,
        "worlds": {},
    }
    cols = ("P", "scheme", "fwd B/layer", "bwd B/layer", "bytes/DSP", "ms", "ms/DSP")
    header = " ".join(f"{c:>{w}}" for c, w in zip(cols, (2, 8, 12, 12, 9, 8, 7)))
    print(
        f"grid (B, T, S, D) = {tuple(x.shape)}, activation {act_bytes} bytes; one process: {single_ms:.1f} ms"
    )
    print(header)
    for world in args.worlds:
        per_rank = run_local(_worker, world, args, timeout_s=600)
        rows = {}
        for scheme in SCHEMES:
            rows[scheme] = {
                "fwd_bytes_per_layer": per_rank[0][scheme]["fwd_bytes_per_layer"],
                "bwd_bytes_per_layer": per_rank[0][scheme]["bwd_bytes_per_layer"],
                "ms": max(r[scheme]["ms"] for r in per_rank),
            }
        base = rows["dsp"]
        for scheme, row in rows.items():
            total = row["fwd_bytes_per_layer"] + row["bwd_bytes_per_layer"]
            row["bytes_ratio_to_dsp"] = total / (base["fwd_bytes_per_layer"] + base["bwd_bytes_per_layer"])
            row["time_ratio_to_dsp"] = row["ms"] / base["ms"]
            print(
                f"{world:>2} {scheme:>8} {row['fwd_bytes_per_layer']:>12.0f} "
                f"{row['bwd_bytes_per_layer']:>12.0f} "
                f"{row['bytes_ratio_to_dsp']:>9.2f} {row['ms']:>8.1f} {row['time_ratio_to_dsp']:>7.2f}"
            )
        result["worlds"][str(world)] = rows
    write_json(result, args.out)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
