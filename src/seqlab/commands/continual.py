"""``seqlab continual``: run a continual-learning protocol (strategies x scenarios x seeds) and write
the results table (mean +- standard error) under the report folder. Finished cells go into the one
results store (rows of kind "continual", the store ``seqlab bench`` and ``seqlab report`` use) as
they complete, and each cell checkpoints after every experience, so an interrupted run resumes where
it stopped; failed cells are retried."""

from __future__ import annotations

import sys
from pathlib import Path

NAME = "continual"
DEFAULT_STORE = "results/bench.sqlite"  # the store `seqlab bench` and `seqlab report` default to
HELP = "run a continual-learning protocol (e.g. split-mnist) over strategies x scenarios x seeds"


def add_arguments(p):
    p.add_argument(
        "--protocol",
        default="split-mnist",
        help="split-mnist | permuted-mnist | split-mnist1d | split-digits | sequence-tasks, optionally "
        "prefixed online- (one pass, scored along the way) and/or blurry<percent>- (overlapping boundaries)",
    )
    p.add_argument("--strategies", default=None, help="comma-separated strategy names (default: all)")
    p.add_argument(
        "--scenarios", default="task,domain,class", help="comma-separated subset of task,domain,class"
    )
    p.add_argument("--seeds", type=int, default=5, help="number of seeds (0..n-1)")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimizer steps per experience (default: TrainConfig.steps, 15 with --quick)",
    )
    p.add_argument(
        "--quick", action="store_true", help="2 seeds, 15 steps per experience (a smoke run; default: off)"
    )
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--out", default="report/continual", help="report folder")
    p.add_argument(
        "--store", default=DEFAULT_STORE, help="results store (SQLite) shared with bench and speed"
    )
    p.add_argument(
        "--rerun-stale", action="store_true", help="retrain cells whose rows another code version made"
    )


def run(args) -> int:
    from seqlab.continual.protocol import run_protocol, write_report
    from seqlab.continual.strategy import TrainConfig

    if args.seeds < 1 or args.workers < 1:
        raise ValueError(f"--seeds and --workers must be >= 1, got {args.seeds}, {args.workers}")
    seeds = args.seeds if not args.quick else min(args.seeds, 2)
    steps = args.steps or (15 if args.quick else TrainConfig.steps)
    if steps < 1:
        raise ValueError(f"--steps must be >= 1, got {steps}")
    strategies = args.strategies.split(",") if args.strategies else None
    scenarios = [s.strip().removesuffix("-il") for s in args.scenarios.split(",")]
    old_jsonl = Path(args.out) / f"{args.protocol}.jsonl"
    if old_jsonl.exists():
        print(
            f"note: {old_jsonl} holds results in the old JSON-lines format, which is no longer read; "
            f"results now go to the store {args.store}"
        )
    rows = run_protocol(
        args.protocol,
        strategies,
        scenarios,
        list(range(seeds)),
        TrainConfig(steps=steps),
        args.out,
        args.workers,
        store=args.store,
        rerun_stale=args.rerun_stale,
        progress=True,
    )
    command = (
        "seqlab " + " ".join(sys.argv[1:])
        if sys.argv[0].endswith("seqlab")
        else f"seqlab continual ({vars(args)})"
    )
    path = write_report(rows, args.protocol, args.out, command)
    print(path.read_text())
    print(f"wrote {path}; rows in {args.store}")
    failed = [r for r in rows if "error" in r]
    if failed:
        print(f"{len(failed)} cell(s) failed and will be retried on the next run")
        return 1
    return 0
