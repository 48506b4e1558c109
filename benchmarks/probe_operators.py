"""Time of the interaction operator of every registered mixer, and of MambaLRP vs gradient x input.

    python benchmarks/probe_operators.py [--length 32] [--d-model 16] [--reps 3] [--out PATH]

Part 1: ``seqlab.probe.interaction(mixer, x)`` for every mixer at batch 1, ``--length`` tokens,
``--d-model`` channels (float32, one thread): median wall seconds over ``reps``, the structure of the
operator, and whether it is exact (a closed form / identity-values probe) or the autograd Jacobian
(``L * D`` backward passes). The exact rules' cost does not depend on how many outputs there are;
the Jacobian's grows with ``L * D``. Part 2: ``seqlab.probe.relevance`` on a 2-layer Mamba
``SequenceModel`` (d 16), MambaLRP and gradient x input, per sequence of ``--length`` tokens.

Wall-clock numbers on a shared CPU are noisy: the run records the load average before and after.
Prints a table and writes JSON (default ``benchmarks/results/cpu-2core/probe_operators.json``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from seqlab.bench.speed import write_json
from seqlab.models import SequenceModel
from seqlab.probe import interaction, relevance
from seqlab.registry import create, entries

OUT = Path(__file__).parent / "results" / "cpu-2core" / "probe_operators.json"


def _median_time(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--length", type=int, default=32)
    p.add_argument("--d-model", type=int, default=16)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    x = torch.randn(1, args.length, args.d_model, generator=torch.Generator().manual_seed(0))
    rows = []
    for e in entries("mixer"):
        torch.manual_seed(0)
        m = create("mixer", e.name, d_model=args.d_model, **e.info.get("test_cfg", {})).eval()
        it = interaction(m, x)
        secs = _median_time(lambda m=m: interaction(m, x), args.reps)
        rows.append(
            {
                "mixer": e.name,
                "structure": it.structure,
                "exact": it.exact,
                "seconds": secs,
                "shape": list(it.W.shape),
            }
        )
    torch.manual_seed(0)
    model = SequenceModel("mamba", d_model=16, n_layers=2, vocab_size=8, n_outputs=2).eval()
    e = model.embed(torch.randint(0, 8, (1, args.length))).detach()
    lrp = {
        rule: _median_time(lambda r=rule: relevance(model, e, torch.tensor([0]), rule=r), args.reps)
        for rule in ("lrp", "gxi")
    }
    result = {
        "benchmark": "probe_operators",
        "length": args.length,
        "d_model": args.d_model,
        "reps": args.reps,
        "threads": 1,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "operators": rows,
        "relevance_seconds": lrp,
    }
    print(f"{'mixer':18} {'structure':9} {'exact':5} {'seconds':>9}  shape")
    for r in rows:
        print(f"{r['mixer']:18} {r['structure']:9} {str(r['exact']):5} {r['seconds']:9.4f}  {r['shape']}")
    print(f"relevance per sequence: MambaLRP {lrp['lrp']:.4f} s, gradient x input {lrp['gxi']:.4f} s")
    print(f"load average before {load_before[0]:.1f}, after {result['load_after'][0]:.1f}")
    print(f"wrote {write_json(result, args.out)}")


if __name__ == "__main__":
    main()
