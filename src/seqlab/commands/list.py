"""``seqlab list KIND``: the registered components of one kind, each with the paper it implements."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from seqlab.registry import Entry, entries, kinds

NAME = "list"
HELP = "list registered components of a kind (mixers, tasks, tokenizers, strategies, ...) with their papers"

HIDDEN_INFO = {"test_cfg"}
WIDTH = 120
NO_WRAP = {"name", "modes", "state growth", "default"}  # short columns kept on one line


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


def _mixer_rows(rows: list[Entry]):
    """Modes, state growth and state size as the default-configured mixer declares them (its class)."""
    out = []
    for e in rows:
        m = e.obj(d_model=16)
        growth = getattr(m, "state_growth", "-")
        out.append(
            [_text(m.modes), str(growth), str(m.state_size), "causal" if m.causal else "bidirectional"]
        )
    return ["modes", "state growth", "state size", "default"], out


def component_rows(kind: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of ``seqlab list KIND``: name, implemented paper(s), then kind-specific columns."""
    rows = entries(kind)
    if kind == "mixer":
        columns, values = _mixer_rows(rows)
    else:
        columns = sorted({k for e in rows for k in e.info if k not in HIDDEN_INFO})
        values = [[_text(e.info.get(k, "")) for k in columns] for e in rows]
    head = ["name", "implements", *columns]
    return head, [[e.name, e.paper, *vals] for e, vals in zip(rows, values)]


def run(args) -> int:
    kind = _normalise(args.kind)
    head, body = component_rows(kind)
    table = Table(title=f"seqlab {kind} components ({len(body)})", expand=True)
    for col in head:
        if col in NO_WRAP:
            table.add_column(col, no_wrap=True)
        else:
            table.add_column(col, overflow="fold", ratio=3 if col == "implements" else 2)
    for row in body:
        table.add_row(*row)
    Console(width=WIDTH).print(table)
    return 0
