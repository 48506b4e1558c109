"""``seqlab recsys --dataset ml-100k``: every recommender side by side (popularity, SASRec, GRU4Rec,
GRID, UniRec, Recformer, TIMeSynC, playlist embeddings; DARE on request).

Every model is trained on the same leave-one-out split and evaluated by full ranking over all items
(seen items excluded): Recall@10/20, NDCG@10/20, wall and CPU seconds to train. Each model runs with
``--threads`` torch threads (default 1, so CPU seconds are comparable on a shared machine).

With ``--out DIR`` every (model, seed) result is written to ``DIR/recsys_cells.json`` as soon as it
is measured, keyed by dataset, model, seed, users and the model's overrides; a rerun with the same
``--out`` reuses those entries and trains only the missing ones (a killed run resumes where it
stopped). The table is also written to ``DIR/recsys_table.{json,md}``. See docs/recsys.md.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

NAME = "recsys"
HELP = "sequential recommendation on MovieLens-100K: popularity, SASRec, GRU4Rec, GRID, ... side by side"
MODELS = ("popularity", "sasrec", "gru4rec", "grid", "dare", "unirec", "recformer", "timesync", "playlist")
DEFAULT = ("popularity", "sasrec", "gru4rec", "grid", "unirec", "recformer", "timesync", "playlist")
METRICS = ("recall@10", "ndcg@10", "recall@20", "ndcg@20")
CELLS = "recsys_cells.json"


def add_arguments(p):
    p.add_argument(
        "--dataset", default="ml-100k", choices=["ml-100k"], help="data set (from the recbole wheel)"
    )
    p.add_argument(
        "--models",
        default=",".join(DEFAULT),
        help=f"comma-separated recommenders among {', '.join(MODELS)} (default: all but dare)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of model initialisation and batch order")
    p.add_argument(
        "--seeds", default=None, help="comma-separated seeds (overrides --seed); the table shows the mean"
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs for every trained model (default: each model's own, see docs)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MODEL.KEY=VALUE",
        help="override one model setting, e.g. recformer.max_steps=200 (repeatable; marked in the table)",
    )
    p.add_argument("--users", type=int, default=None, help="only the first N users (a quick run)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per model run (default 1)")
    p.add_argument(
        "--out", default=None, help="folder for the per-(model, seed) cache and recsys_table.{json,md}"
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def parse_models(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in MODELS]
    if not names or bad:
        raise ValueError(f"--models takes names among {', '.join(MODELS)}; got {text!r}")
    return names


def parse_seeds(text: str | None, seed: int) -> list[int]:
    """``--seeds "0,1,2"`` -> ``[0, 1, 2]``; without ``--seeds``, ``[seed]``."""
    if text is None:
        return [seed]
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"--seeds takes distinct non-negative integers like 0,1,2; got {text!r}")
    return seeds


def parse_threads(n) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"--threads must be an integer >= 1, got {n!r}")
    return n


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_sets(items, models) -> dict[str, dict]:
    """``["recformer.max_steps=200"]`` -> ``{"recformer": {"max_steps": 200}}`` (ints, floats, booleans
    and strings); each model must be among ``models``."""
    out: dict[str, dict] = {}
    for item in items:
        name, dot, rest = item.partition(".")
        key, eq, val = rest.partition("=")
        if not dot or not eq or not key or not val:
            raise ValueError(f"--set takes MODEL.KEY=VALUE (e.g. recformer.max_steps=200); got {item!r}")
        if name not in models:
            raise ValueError(f"--set names model {name!r}, which is not among --models {','.join(models)}")
        out.setdefault(name, {})[key] = _value(val)
    return out


def cell_key(dataset: str, model: str, seed: int, users, overrides: dict) -> str:
    """The cache key of one (model, seed) result: everything that changes what is measured."""
    return json.dumps(
        {"dataset": dataset, "model": model, "seed": seed, "users": users, "overrides": overrides},
        sort_keys=True,
    )


def load_cells(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    try:
        cells = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not a JSON cache of recsys results ({e}); delete or repair it") from e
    if not isinstance(cells, dict):
        raise ValueError(f"{path} should hold a JSON object of cells, found {type(cells).__name__}")
    return cells


def save_cells(path: Path, cells: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cells, indent=1, sort_keys=True))
    os.replace(tmp, path)  # atomic: a kill never leaves a half-written cache


def measure(name: str, split, seed: int, overrides: dict, threads: int) -> dict[str, float]:
    """Train recommender ``name`` on ``split`` with ``threads`` torch threads; its metrics, wall and
    CPU seconds to train, and seconds to evaluate."""
    import torch

    from seqlab.recsys.base import evaluate
    from seqlab.recsys.experiments import build

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = build(name, seed, **overrides)
        c0 = time.process_time()
        model.fit(split)
        cpu = time.process_time() - c0
        t0 = time.perf_counter()
        row = evaluate(model, split)
        row["eval_seconds"] = time.perf_counter() - t0
    finally:
        torch.set_num_threads(previous)
    row["cpu_seconds"] = cpu
    row["threads"] = threads
    return row


def run_cells(models, seeds, dataset, users, overrides, threads, out=None, log=print) -> dict:
    """``{model: {seed: row}}``, reusing and extending ``out/recsys_cells.json`` when ``out`` is given."""
    from seqlab.recsys.experiments import load_split

    path = None
    cells: dict[str, dict] = {}
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        path = Path(out) / CELLS
        cells = load_cells(path)
    split = None
    results: dict[str, dict] = {}
    for name in models:
        for seed in seeds:
            key = cell_key(dataset, name, seed, users, overrides.get(name, {}))
            if key not in cells:
                if split is None:
                    split = load_split(dataset, users)
                cells[key] = measure(name, split, seed, overrides.get(name, {}), threads)
                if path is not None:
                    save_cells(path, cells)
                if log is not None:
                    log(f"# {name} seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in cells[key].items()))
            results.setdefault(name, {})[seed] = cells[key]
    return results


def summary(results: dict, overrides: dict, marks: dict | None = None) -> dict[str, dict]:
    """Mean and sample standard deviation over seeds of each model's metrics and seconds; ``marks``
    (the ``--set`` overrides) are kept to label the model's row."""
    out = {}
    for name, per_seed in results.items():
        rows = list(per_seed.values())
        row = {
            "seeds": sorted(per_seed),
            "overrides": overrides.get(name, {}),
            "marks": (marks or {}).get(name, {}),
        }
        for k in (*METRICS, "train_seconds", "cpu_seconds"):
            xs = [float(r[k]) for r in rows]
            m = sum(xs) / len(xs)
            row[k] = m
            row[k + "_sd"] = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
        out[name] = row
    return out


def table(summ: dict) -> tuple[list[str], list[list[str]]]:
    head = ["model", "Recall@10", "NDCG@10", "Recall@20", "NDCG@20", "train s", "train cpu-s", "seeds"]
    rows = []
    for name, r in summ.items():
        label = name
        if r["marks"]:
            label += " (" + ", ".join(f"{k}={v}" for k, v in sorted(r["marks"].items())) + ")"
        sd = len(r["seeds"]) > 1
        cells = [f"{r[k]:.4f}" + (f" ± {r[k + '_sd']:.4f}" if sd else "") for k in METRICS]
        rows.append(
            [label, *cells, f"{r['train_seconds']:.1f}", f"{r['cpu_seconds']:.1f}", str(len(r["seeds"]))]
        )
    return head, rows


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(args) -> int:
    from seqlab.experiments.report import md_table

    models = parse_models(args.models)
    seeds = parse_seeds(args.seeds, args.seed)
    threads = parse_threads(args.threads)
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    overrides = {m: {"epochs": args.epochs} for m in models if m != "popularity"} if args.epochs else {}
    marks = parse_sets(args.set, models)  # per-model budgets, shown beside the model's name
    for m, kv in marks.items():
        overrides.setdefault(m, {}).update(kv)
    results = run_cells(
        models,
        seeds,
        args.dataset,
        args.users,
        overrides,
        threads,
        args.out,
        log=None if args.json else _progress,
    )
    summ = summary(results, overrides, marks)
    head, rows = table(summ)
    users = f", first {args.users} users" if args.users else ""
    epochs = f"; --epochs {args.epochs} for every trained model" if args.epochs else ""
    title = (
        f"{args.dataset}: leave-one-out, full ranking over all items, seen items excluded (seeds "
        f"{','.join(map(str, seeds))}{users}; {threads} torch thread(s) per model{epochs}; "
        "mean ± sd over seeds)"
    )
    if args.out is not None:
        out = Path(args.out)
        (out / "recsys_table.json").write_text(
            json.dumps(
                {"dataset": args.dataset, "users": args.users, "threads": threads, "models": summ}, indent=1
            )
        )
        (out / "recsys_table.md").write_text(title + "\n\n" + md_table(head, rows) + "\n")
    if args.json:
        per_seed = {name: {"per_seed": {str(s): r for s, r in rs.items()}} for name, rs in results.items()}
        print(json.dumps({name: {**summ[name], **per_seed[name]} for name in summ}, indent=1))
        return 0
    print(title)
    print(md_table(head, rows))
    return 0
