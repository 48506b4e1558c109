"""``seqlab list KIND``: the registered components of one kind."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from seqlab.registry import entries, kinds

NAME = "list"
HELP = "list registered components of a kind (mixers, tasks, tokenizers, strategies, ...)"


def add_arguments(p):
    p.add_argument("kind", help="component kind, singular or plural: mixers, positional, tasks, ...")


def _normalise(kind: str) -> str:
    valid = kinds()
    for cand in (kind, kind.rstrip("s"), kind[:-3] + "y" if kind.endswith("ies") else kind):
        if cand in valid:
            return cand
    raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(valid)}")


def run(args) -> int:
    kind = _normalise(args.kind)
    rows = entries(kind)
    extra = sorted({k for e in rows for k in e.info if k != "cites"})
    table = Table(title=f"seqlab {kind} components ({len(rows)})")
    for col in ["name", "paper", *extra]:
        table.add_column(col, overflow="fold")
    for e in rows:
        paper = "; ".join(e.papers) or e.info.get("cites", "")
        vals = [
            ", ".join(v) if isinstance(v, (tuple, list)) else str(v)
            for v in (e.info.get(k, "") for k in extra)
        ]
        table.add_row(e.name, paper, *vals)
    Console(width=200).print(table)
    return 0
