"""``seqlab list KIND``: the registered components of one kind."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from seqlab.registry import entries, kinds

NAME = "list"
HELP = "list registered components of a kind (mixers, tasks, tokenizers, strategies, ...)"

HIDDEN_INFO = {"cites", "test_cfg"}


def add_arguments(p):
    p.add_argument("kind", help="component kind, singular or plural: mixers, positional, tasks, ...")


def _normalise(kind: str) -> str:
    valid = kinds()
    for cand in (kind, kind.rstrip("s"), kind[:-3] + "y" if kind.endswith("ies") else kind):
        if cand in valid:
            return cand
    raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(valid)}")


def _text(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def _mixer_rows(rows):
    """Modes and state size as the default-configured mixer reports them (the contract's fields)."""
    out = []
    for e in rows:
        m = e.obj(d_model=16)
        notes = e.info.get("state", "")
        out.append([_text(m.modes), m.state_size, "causal" if m.causal else "bidirectional", notes])
    return ["modes", "state size", "default", "notes"], out


def run(args) -> int:
    kind = _normalise(args.kind)
    rows = entries(kind)
    if kind == "mixer":
        columns, values = _mixer_rows(rows)
    else:
        columns = sorted({k for e in rows for k in e.info if k not in HIDDEN_INFO})
        values = [[_text(e.info.get(k, "")) for k in columns] for e in rows]
    table = Table(title=f"seqlab {kind} components ({len(rows)})")
    for col in ["name", "paper", *columns]:
        table.add_column(col, overflow="fold")
    for e, vals in zip(rows, values):
        table.add_row(e.name, "; ".join(e.papers) or e.info.get("cites", ""), *vals)
    Console(width=200).print(table)
    return 0
