"""``seqlab papers``: the paper registry table; ``seqlab papers reproduce NAME`` runs one claim."""

from __future__ import annotations

from pathlib import Path

NAME = "papers"
HELP = "list the catalog's papers with components and claim status; 'reproduce NAME' runs a claim"


def add_arguments(p):
    p.add_argument("action", nargs="?", choices=["list", "reproduce"], default="list")
    p.add_argument("name", nargs="?", help="claim name (for reproduce), or 'all'")
    p.add_argument("--store", default="results/bench.sqlite", help="results store (SQLite)")
    p.add_argument("--out", default="report", help="report folder, rewritten after a reproduction")
    from seqlab.commands.bench import workers_arg

    p.add_argument("--workers", type=workers_arg, default=2, help="worker processes (one thread each)")
    p.add_argument(
        "--implemented", action="store_true", help="only papers with registered components or a claim"
    )


def paper_table(store) -> tuple[list[str], list[list[str]]]:
    """Every catalog paper: number, title, module, registered components, claim status + figure."""
    from seqlab.papers import paper_rows
    from seqlab.papers.claims import claims_by_title

    claims = claims_by_title()
    head = ["#", "paper", "module", "components", "claim", "status", "measured"]
    body = []
    for r in paper_rows():
        c = claims.get(r.title)
        status, fig = c.status(store) if c and store is not None else (("not run", "") if c else ("-", ""))
        body.append(
            [str(r.number), r.title, r.module, ", ".join(r.components), c.name if c else "", status, fig]
        )
    return head, body


def _open_store(path: str, create: bool):
    from seqlab.experiments.store import ResultStore

    if not create and not Path(path).is_file():
        return None
    return ResultStore(path)


def run(args) -> int:
    from seqlab.papers.claims import CLAIMS, claim

    if args.action == "list":
        from rich.console import Console
        from rich.table import Table

        store = _open_store(args.store, create=False)
        head, body = paper_table(store)
        if args.implemented:
            body = [b for b in body if b[3] or b[4]]
        table = Table(title=f"seqlab papers ({len(body)}; claim status from {args.store})")
        for h in head:
            table.add_column(h, overflow="fold")
        for b in body:
            table.add_row(*b)
        Console(width=220).print(table)
        return 0
    if not args.name:
        raise ValueError(f"reproduce needs a claim name: {', '.join(CLAIMS)} or 'all'")
    from seqlab.bench.runner import run_grid
    from seqlab.commands.report import build_report, report_keys

    names = list(CLAIMS) if args.name == "all" else [claim(args.name).name]
    failed = 0
    with _open_store(args.store, create=True) as store:
        for name in names:
            c = CLAIMS[name]
            print(f"claim {name}: {c.criterion}")
            out = run_grid(list(c.runs), store, grid_name=f"claim:{name}", workers=args.workers)
            failed += len(out.failed)
            status, fig = c.status(store)
            print(f"claim {name}: {status} -- {fig}")
        path = build_report(
            store, Path(args.out), keys=report_keys("default"), title="seqlab bench: default + claims"
        )
        print(f"report: {path.resolve()}")
    return 1 if failed else 0
