"""``seqlab papers``: every catalog paper, whether seqlab implements it, and its claims' status.

``seqlab papers`` prints summary counts (papers implemented / partial / not implemented; claims
passed / failed / inconclusive / not run) and one row per paper, within 120 columns;
``--module NAME`` keeps one module's papers, ``--json`` prints the same rows for scripts.
``seqlab papers reproduce NAME`` (or ``all``) runs a claim's grid and rewrites the report.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

NAME = "papers"
HELP = "catalog papers: implemented / partial / not, components, claims; 'reproduce NAME' runs a claim"
WIDTH = 120
CLAIM_STATUSES = ("passed", "failed", "inconclusive", "not run")
PAPER_STATUSES = ("implemented", "partial", "not implemented")


def add_arguments(p):
    p.add_argument("action", nargs="?", choices=["list", "reproduce"], default="list")
    p.add_argument("name", nargs="?", help="claim name (for reproduce), or 'all'")
    p.add_argument(
        "--store", default="results/bench.sqlite", help="results store (SQLite) claims are read from"
    )
    p.add_argument("--out", default="report", help="report folder, rewritten after a reproduction")
    from seqlab.commands.bench import workers_arg

    p.add_argument("--workers", type=workers_arg, default=2, help="worker processes (one thread each)")
    p.add_argument("--module", default=None, help="only the papers of this module (tokenize, continual, ...)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    p.add_argument(
        "--implemented",
        action="store_true",
        help="only papers that are implemented or partial, or that have a component or a claim",
    )


def _number(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def claim_result(c, store) -> dict[str, Any]:
    """One claim's verdict as plain data: name, status, mean, low, high, seeds, seconds, figure.

    A claim with ``evaluate(store)`` (the claim protocol's ClaimResult) is read field by field; an
    older claim with only ``status(store) -> (status, figure)`` gives its status and figure.
    """
    if hasattr(c, "evaluate"):
        r = c.evaluate(store)
        out = {
            "name": c.name,
            "status": r.status,
            "mean": _number(r.mean),
            "low": _number(r.low),
            "high": _number(r.high),
            "seeds": int(r.seeds or 0),
            "seconds": _number(r.seconds),
            "figure": r.figure,
        }
    else:
        status, figure = c.status(store) if store is not None else ("not run", "no results store")
        out = {
            "name": c.name,
            "status": status,
            "mean": None,
            "low": None,
            "high": None,
            "seeds": 0,
            "seconds": None,
            "figure": figure,
        }
    if out["status"] not in CLAIM_STATUSES:
        raise ValueError(
            f"claim {c.name!r} returned status {out['status']!r}; expected one of {CLAIM_STATUSES}"
        )
    return out


def _claims_by_title() -> dict[str, list]:
    from seqlab.papers.claims import CLAIMS

    by: dict[str, list] = {}
    for c in CLAIMS.values():
        by.setdefault(c.title, []).append(c)
    return by


def paper_records(store, module: str | None = None) -> list[dict[str, Any]]:
    """One record per catalog paper (of ``module`` when given), with its claims evaluated on ``store``."""
    from seqlab.papers import paper_rows

    rows = paper_rows()
    modules = sorted({r.module for r in rows})
    if module is not None and module not in modules:
        raise ValueError(f"unknown module {module!r}; expected one of: {', '.join(modules)}")
    claims = _claims_by_title()
    return [
        {
            "number": r.number,
            "title": r.title,
            "module": r.module,
            "status": r.status,
            "note": r.note,
            "components": list(r.components),
            "implemented_by": list(r.implemented_by),
            "claims": [claim_result(c, store) for c in claims.get(r.title, [])],
        }
        for r in rows
        if module is None or r.module == module
    ]


def summary(records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts of paper statuses and claim statuses over ``records`` (every status present, 0 if none)."""
    papers = Counter(r["status"] for r in records)
    claims = Counter(c["status"] for r in records for c in r["claims"])
    return {
        "papers": {s: papers.get(s, 0) for s in PAPER_STATUSES},
        "claims": {s: claims.get(s, 0) for s in CLAIM_STATUSES},
    }


def summary_line(s: dict[str, dict[str, int]]) -> str:
    p, c = s["papers"], s["claims"]
    return (
        f"{sum(p.values())} papers: {p['implemented']} implemented, {p['partial']} partial, "
        f"{p['not implemented']} not implemented | {sum(c.values())} claims: {c['passed']} passed, "
        f"{c['failed']} failed, {c['inconclusive']} inconclusive, {c['not run']} not run"
    )


def _claim_text(c: dict[str, Any]) -> str:
    if c["mean"] is None:
        return c["status"]
    text = f"{c['status']} {c['mean']:.3g}"
    if c["low"] is not None and c["high"] is not None:
        text += f" [{c['low']:.3g}, {c['high']:.3g}]"
    return f"{text} n={c['seeds']}"


def _components(refs: list[str], most: int = 6) -> str:
    """Component names (kind dropped), the first ``most`` then a count of the rest (--json has all)."""
    names = [ref.split(":", 1)[1] for ref in refs]
    shown = ", ".join(names[:most])
    return shown + (f" +{len(names) - most} more" if len(names) > most else "")


def paper_table(store, module: str | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the table: #, paper, module, status, claim, result, components."""
    head = ["#", "paper", "module", "status", "claim", "result", "components"]
    body = [
        [
            str(r["number"]),
            r["title"],
            r["module"],
            r["status"],
            "\n".join(c["name"] for c in r["claims"]),
            "\n".join(_claim_text(c) for c in r["claims"]),
            _components(r["components"]),
        ]
        for r in paper_records(store, module)
    ]
    return head, body


def render(records: list[dict[str, Any]], title: str, width: int = WIDTH):
    """The rich table of ``records`` (summary line as its caption), sized to ``width`` columns."""
    from rich.markup import escape
    from rich.table import Table

    colour = {
        "implemented": "green",
        "partial": "yellow",
        "not implemented": "dim",
        "passed": "green",
        "failed": "red",
        "inconclusive": "yellow",
        "not run": "dim",
    }
    table = Table(title=title, caption=summary_line(summary(records)), expand=True, width=width)
    table.add_column("#", no_wrap=True, width=3, justify="right")
    table.add_column("paper", overflow="fold", ratio=7)
    table.add_column("module", no_wrap=True, width=11)
    table.add_column("status", no_wrap=True, width=15)
    for name, ratio in (("claim", 3), ("result", 5), ("components", 3)):
        table.add_column(name, overflow="fold", ratio=ratio)
    for r in records:
        claims = "\n".join(f"[{colour[c['status']]}]{escape(_claim_text(c))}[/]" for c in r["claims"])
        table.add_row(
            str(r["number"]),
            r["title"],
            r["module"],
            f"[{colour[r['status']]}]{r['status']}[/]",
            "\n".join(c["name"] for c in r["claims"]),
            claims,
            _components(r["components"]),
        )
    return table


def _open_store(path: str, create: bool):
    from seqlab.experiments.store import ResultStore

    if not create and not Path(path).is_file():
        return None
    return ResultStore(path)


def _list(args) -> int:
    store = _open_store(args.store, create=False)
    try:
        records = paper_records(store, args.module)
    finally:
        if store is not None and hasattr(store, "close"):
            store.close()
    if args.implemented:
        records = [r for r in records if r["status"] != "not implemented" or r["components"] or r["claims"]]
    if args.json:
        print(json.dumps({"store": args.store, "summary": summary(records), "papers": records}, indent=1))
        return 0
    from rich.console import Console

    scope = f"module {args.module}" if args.module else "all modules"
    Console(width=WIDTH).print(render(records, f"seqlab papers ({scope}; claims from {args.store})"))
    return 0


def run(args) -> int:
    if args.action == "list":
        return _list(args)
    from seqlab.papers.claims import CLAIMS, claim

    if not args.name:
        raise ValueError(f"reproduce needs a claim name: {', '.join(CLAIMS)} or 'all'")
    from seqlab.bench.runner import run_grid
    from seqlab.commands.report import build_report, report_keys
    from seqlab.experiments.cell import claim_cells, run_claim_cells
    from seqlab.papers.continual_claims import CONTINUAL_CLAIMS, run_continual_claim

    names = list(CLAIMS) if args.name == "all" else [claim(args.name).name]
    failed = 0
    with _open_store(args.store, create=True) as store:
        for name in names:
            c = CLAIMS[name]
            print(f"claim {name}: {c.criterion}")
            if name in CONTINUAL_CLAIMS:  # continual cells (rows of kind "continual")
                out = run_continual_claim(c, store, workers=args.workers)
            elif claim_cells(c):  # a module's experiment cells (rows of kind "<module>")
                out = run_claim_cells(c, store, workers=args.workers)
            else:
                out = run_grid(list(c.runs), store, grid_name=f"claim:{name}", workers=args.workers)
            failed += len(out.failed)
            r = claim_result(c, store)
            print(f"claim {name}: {_claim_text(r)} -- {r['figure']}")
        path = build_report(
            store, Path(args.out), keys=report_keys("default"), title="seqlab bench: default + claims"
        )
        print(f"report: {path.resolve()}")
    return 1 if failed else 0
