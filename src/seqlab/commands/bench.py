"""``seqlab bench``: run a grid (the ``default`` suite without arguments) and write the report."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

NAME = "bench"
HELP = "run the capability benchmark (default suite, or --suite/--grid) and write the report"


def workers_arg(text: str) -> int:
    """argparse type of ``--workers``: an int >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an int >= 0 (0 = run in-process), got {text!r}")
    return value


def retries_arg(text: str) -> int:
    """argparse type of ``--max-retries``: an int >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an int >= 0 (retries of a failed cell), got {text!r}")
    return value


def add_arguments(p):
    p.add_argument("--suite", default=None, help="built-in suite name (default: 'default'; also 'full')")
    p.add_argument("--grid", default=None, help="a grid file (YAML or TOML) instead of a suite")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a grid field, e.g. --set defaults.steps=100 (repeatable)",
    )
    p.add_argument("--store", default="results/bench.sqlite", help="results store (SQLite)")
    p.add_argument("--out", default="report", help="report folder")
    p.add_argument(
        "--workers",
        type=workers_arg,
        default=2,
        help="worker processes (one thread each); 0 = in-process",
    )
    p.add_argument(
        "--executor",
        choices=("process", "ray"),
        default="process",
        help="where cells train: local worker processes (default) or Ray tasks (pip install 'seqlab[ray]')",
    )
    p.add_argument(
        "--address",
        default=None,
        help="with --executor ray: the cluster (host:port, ray://host:port or auto); "
        "default: a local Ray with --workers CPUs",
    )
    p.add_argument(
        "--cpus-per-cell",
        type=float,
        default=None,
        help="with --executor ray: CPUs each cell asks for (default: the grid's resources, else 1)",
    )
    p.add_argument(
        "--gpus-per-cell",
        type=float,
        default=None,
        help="with --executor ray: GPUs each cell asks for (default: the grid's resources, else 0)",
    )
    p.add_argument(
        "--max-retries",
        type=retries_arg,
        default=None,
        help="with --executor ray: retries of a cell whose worker dies or whose run raises "
        "(default: the grid's resources, else 2)",
    )
    p.add_argument("--resume", action="store_true", help="continue interrupted runs from their checkpoints")
    p.add_argument(
        "--rerun-stale",
        action="store_true",
        help="retrain the runs whose stored rows another code version (git commit) made, replacing them",
    )
    p.add_argument(
        "--list", action="store_true", help="list the suites and the runs of the chosen grid, then exit"
    )
    p.add_argument("--no-report", action="store_true", help="skip writing the report")


def _run_data_parallel(args, grid, executor_name: str) -> int:
    """``torchrun --nproc_per_node N -m seqlab bench ...``: every run trained by all ranks together (DDP).

    Rank 0 alone opens the store, picks the runs not stored yet and writes each row as its run ends;
    the other ranks train the same runs in the same order (``fit`` shards each global batch).
    """
    from seqlab.bench.runner import run_grid_data_parallel
    from seqlab.train.distributed import init_distributed

    if executor_name == "ray" or args.resume or args.rerun_stale:
        raise ValueError(
            "under torchrun, seqlab bench takes neither --executor ray, --resume nor --rerun-stale"
        )
    rank, world = init_distributed()
    t0 = time.perf_counter()
    out = run_grid_data_parallel(grid.runs, args.store, grid_name=grid.name)
    if rank == 0:
        print(
            f"done ({world} ranks per run): {len(out.done)} trained, {len(out.skipped)} already stored "
            f"({time.perf_counter() - t0:.0f} s)"
        )
    return 0


def resume_plan(runs, store) -> tuple[list[str], list[str]]:
    """(keys with a checkpoint to resume, keys to train from the start) among the runs not stored."""
    have = store.keys("bench")
    todo = [r.key() for r in runs if r.key() not in have]
    root = store.path.parent / "checkpoints"
    resumable = [k for k in todo if (root / k).is_dir() and any((root / k).iterdir())]
    return resumable, [k for k in todo if k not in resumable]


def run(args) -> int:
    from seqlab.bench.grid import load_grid, load_suite, suite_names
    from seqlab.bench.runner import Terminated, run_grid
    from seqlab.commands.report import build_report
    from seqlab.experiments.runner import validate_workers
    from seqlab.experiments.store import ResultStore

    if args.grid and args.suite:
        raise ValueError("give either --suite or --grid, not both")
    validate_workers(args.workers)
    executor_name = getattr(args, "executor", "process")
    cli_resources = {
        key: getattr(args, key, None)
        for key in ("cpus_per_cell", "gpus_per_cell", "max_retries")
        if getattr(args, key, None) is not None
    }
    if executor_name != "ray":
        given = [f"--{k.replace('_', '-')}" for k in cli_resources]
        if getattr(args, "address", None) is not None:
            given.insert(0, "--address")
        if given:
            raise ValueError(f"{', '.join(given)} only apply with --executor ray")
    else:
        cpus, gpus = cli_resources.get("cpus_per_cell", 1.0), cli_resources.get("gpus_per_cell", 0.0)
        if not cpus > 0 or not gpus >= 0:
            raise ValueError(f"--cpus-per-cell must be > 0 and --gpus-per-cell >= 0, got {cpus} and {gpus}")
        if args.address is not None:
            from seqlab.experiments.ray_executor import check_reachable

            check_reachable(args.address)  # fail in seconds, before the grid is built or the store opened
    grid = (
        load_grid(args.grid, args.overrides)
        if args.grid
        else load_suite(args.suite or "default", args.overrides)
    )
    if args.list:
        print(f"suites: {', '.join(suite_names())}")
        print(f"grid {grid.name}: {len(grid.runs)} runs")
        for r in grid.runs:
            print(f"  {r.key()}  {r.task} {r.task_params} {r.mixer} d={r.d_model} lr={r.lr} seed={r.seed}")
        return 0
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # under torchrun: each run data-parallel over the ranks
        return _run_data_parallel(args, grid, executor_name)
    t0 = time.perf_counter()
    with ResultStore(args.store) as store:
        if args.resume:
            resumable, fresh = resume_plan(grid.runs, store)
            if not resumable:
                stored = len(grid.runs) - len(fresh)
                print(
                    f"seqlab bench --resume: nothing to resume -- no checkpoint of an unfinished run under "
                    f"{store.path.parent / 'checkpoints'} ({stored} of {len(grid.runs)} runs stored, "
                    f"{len(fresh)} never started); run without --resume to train them"
                )
                return 1
            print(f"resuming {len(resumable)} runs from checkpoints; {len(fresh)} start from the beginning")
        stale = store.stale_keys("bench") & {r.key() for r in grid.runs}
        print(
            f"seqlab bench: grid {grid.name!r}, {len(grid.runs)} runs, store {args.store}, "
            + (f"{args.workers} workers" if executor_name != "ray" else "Ray tasks")
            + (
                f"; {len(stale)} stale rows {'to retrain' if args.rerun_stale else '(--rerun-stale)'}"
                if stale
                else ""
            )
        )
        executor, run_fn = None, None
        if executor_name == "ray":
            from seqlab.experiments.ray_executor import RayCells

            # command-line options win over the grid file's resources, which win over the defaults
            res = {
                "cpus_per_cell": 1.0,
                "gpus_per_cell": 0.0,
                "max_retries": 2,
                **grid.resources,
                **cli_resources,
            }
            executor = RayCells(
                args.address,
                cpus_per_cell=res["cpus_per_cell"],
                gpus_per_cell=res["gpus_per_cell"],
                max_retries=res["max_retries"],
                num_cpus=max(1, args.workers),
            )
            print(f"executor: {executor.describe()}")
            if res["gpus_per_cell"] > 0:  # Ray sets CUDA_VISIBLE_DEVICES to the cell's GPUs
                import functools

                from seqlab.bench.runner import default_run_fn

                run_fn = functools.partial(default_run_fn(), device="cuda")
        try:
            out = run_grid(
                grid.runs,
                store,
                grid_name=grid.name,
                workers=args.workers,
                resume=args.resume,
                rerun_stale=args.rerun_stale,
                executor=executor,
                run_fn=run_fn,
            )
        except Terminated:
            print(f"seqlab bench: terminated; finished runs are in {args.store}, rerun to continue")
            return 143
        print(
            f"done: {len(out.done)} trained, {len(out.skipped)} already stored, {len(out.failed)} failed "
            f"({time.perf_counter() - t0:.0f} s)"
        )
        if not args.no_report:
            from seqlab.papers.claims import CLAIMS

            claim_keys = [k for c in CLAIMS.values() for k in c.keys()] if grid.name == "default" else []
            path = build_report(
                store,
                Path(args.out),
                keys=[r.key() for r in grid.runs] + claim_keys,
                title=f"seqlab bench: {grid.name}",
            )
            print(f"report: {path.resolve()}")
    return 1 if out.failed else 0
