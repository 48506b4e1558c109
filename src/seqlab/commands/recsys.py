"""``seqlab recsys --dataset ml-100k``: every recommender side by side (popularity, SASRec, GRU4Rec,
GRID, UniRec, Recformer, TIMeSynC, playlist embeddings; DARE on request).

Every model is trained on the same leave-one-out split and evaluated by full ranking over all items
(seen items excluded): Recall@10/20, NDCG@10/20 and seconds to train. See docs/recsys.md.
"""

from __future__ import annotations

import json

NAME = "recsys"
HELP = "sequential recommendation on MovieLens-100K: popularity, SASRec, GRU4Rec, GRID, ... side by side"
MODELS = ("popularity", "sasrec", "gru4rec", "grid", "dare", "unirec", "recformer", "timesync", "playlist")
DEFAULT = ("popularity", "sasrec", "gru4rec", "grid", "unirec", "recformer", "timesync", "playlist")


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
        "--epochs",
        type=int,
        default=None,
        help="training epochs for every trained model (default: each model's own, see docs)",
    )
    p.add_argument("--users", type=int, default=None, help="only the first N users (a quick run)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def parse_models(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in MODELS]
    if not names or bad:
        raise ValueError(f"--models takes names among {', '.join(MODELS)}; got {text!r}")
    return names


def run(args) -> int:
    from seqlab.experiments.report import md_table
    from seqlab.recsys.experiments import compare, table

    models = parse_models(args.models)
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    overrides = {m: {"epochs": args.epochs} for m in models if m != "popularity"} if args.epochs else {}
    results = compare(models, args.dataset, args.seed, args.users, overrides)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    head, rows = table(results)
    users = f", first {args.users} users" if args.users else ""
    print(
        f"{args.dataset}: leave-one-out, full ranking over all items, seen items excluded (seed {args.seed}"
        f"{users})"
    )
    print(md_table(head, rows))
    return 0
