"""The paper registry: which of the catalog's papers seqlab implements, and with what.

Components declare their papers at registration (``register(kind, name, papers=[title])``);
this module joins those declarations with :data:`~seqlab.papers.catalog.CATALOG` so the table
``seqlab papers`` prints is computed, never typed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seqlab.papers.catalog import CATALOG
from seqlab.registry import all_entries


@dataclass
class PaperRow:
    number: int
    title: str
    module: str
    works_when: str
    components: list[str] = field(default_factory=list)


TITLES = {title: (number, module, works) for number, title, module, works in CATALOG}


def unknown_titles() -> list[tuple[str, str]]:
    """(component, title) pairs whose title is not in the catalog: typos to fix."""
    return [(f"{e.kind}:{e.name}", t) for e in all_entries() for t in e.papers if t not in TITLES]


def paper_rows() -> list[PaperRow]:
    """One row per catalog paper with the registered components that implement it."""
    rows = {t: PaperRow(n, t, m, w) for t, (n, m, w) in TITLES.items()}
    for e in all_entries():
        for t in e.papers:
            if t in rows:
                rows[t].components.append(f"{e.kind}:{e.name}")
    return sorted(rows.values(), key=lambda r: r.number)
