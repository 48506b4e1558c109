"""Coconut's continuous thoughts with and without the key-value cache (seconds per batch, speedup).

    python benchmarks/reason_cache.py [--thoughts 4 8 16] [--batch 32] [--d-model 64] [--repeats 3]
    python benchmarks/reason_cache.py --quick      # thoughts 4 8, one repeat

Rows: for ``n`` continuous thoughts after a ProsQA question (depth 3), ``uncached`` runs
:meth:`Coconut.thoughts` (``n`` full passes over the growing prefix) and ``cached`` runs
:meth:`Coconut.cached_thoughts` (one pass over the prefix, then one incremental step per thought);
``predict`` times a whole answer (thoughts, ``EOT``, the remaining steps and the answer) at the last
stage of a curriculum with ``n`` thoughts. The untrained small backbone of the claims (2 layers,
RoPE attention), one thread, inference mode; best of ``--repeats``. Wall-clock on a shared CPU is
noisy: the load average is recorded. Writes JSON (default
``benchmarks/results/cpu-2core/reason_cache.json``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from seqlab.bench.speed.run import write_json
from seqlab.reason.base import reasoning_model
from seqlab.reason.coconut import Coconut
from seqlab.registry import create

OUT = Path(__file__).parent / "results" / "cpu-2core" / "reason_cache.json"


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--thoughts", type=int, nargs="+", default=[4, 8, 16])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(OUT))
    a = p.parse_args(argv)
    if a.quick:
        a.thoughts, a.repeats = [4, 8], 1
    torch.set_num_threads(1)
    load0 = os.getloadavg()[0]
    task = create("task", "prosqa", depth=3)
    batch = task.sample(a.batch, seed=0)
    torch.manual_seed(0)
    model = reasoning_model(task.vocab_size, d_model=a.d_model, n_layers=2, n_heads=4).eval()
    rows = []
    with torch.inference_mode():
        for n in a.thoughts:
            plain = Coconut(model, cot_steps=3, thoughts_per_step=max(1, n // 3))
            cached = Coconut(model, cot_steps=3, thoughts_per_step=max(1, n // 3), kv_cache=True)
            prefix = plain.prefix(batch)
            t_plain = _best(lambda: plain.thoughts(prefix, n), a.repeats)  # noqa: B023
            t_cached = _best(lambda: cached.cached_thoughts(prefix, n), a.repeats)  # noqa: B023
            nt = plain.n_thoughts(3)
            p_plain = _best(lambda: plain.predict(batch), a.repeats)  # noqa: B023
            p_cached = _best(lambda: cached.predict(batch), a.repeats)  # noqa: B023
            rows.append(
                {
                    "thoughts": n,
                    "prefix": int(prefix.shape[1]),
                    "uncached_s": t_plain,
                    "cached_s": t_cached,
                    "speedup": t_plain / t_cached,
                    "predict_thoughts": nt,
                    "predict_uncached_s": p_plain,
                    "predict_cached_s": p_cached,
                    "predict_speedup": p_plain / p_cached,
                }
            )
    print(f"batch {a.batch}, d_model {a.d_model}, prefix {rows[0]['prefix']} positions, best of {a.repeats}")
    print(
        "| thoughts | uncached s | cached s | speedup "
        "| predict thoughts | predict uncached s | cached s | speedup |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['thoughts']} | {r['uncached_s']:.4f} | {r['cached_s']:.4f} | {r['speedup']:.2f}x "
            f"| {r['predict_thoughts']} | {r['predict_uncached_s']:.4f} | {r['predict_cached_s']:.4f} "
            f"| {r['predict_speedup']:.2f}x |"
        )
    result = {
        "benchmark": "reason_cache",
        "batch": a.batch,
        "d_model": a.d_model,
        "repeats": a.repeats,
        "threads": 1,
        "rows": rows,
        "load_before": load0,
        "load_after": os.getloadavg()[0],
    }
    write_json(result, a.out)
    print(f"wrote {a.out} (load average {load0:.1f} -> {result['load_after']:.1f})")
    return result


if __name__ == "__main__":
    main()
