"""The paper registry: which of the catalog's papers seqlab implements, and with what.

Components declare, at registration, the paper whose method they implement
(``implements=Paper(title, arxiv)``) and the catalog papers that use them (``used_by=[title]``).
This module joins those declarations with :data:`~seqlab.papers.catalog.CATALOG` and the judgement
table :data:`~seqlab.papers.status.STATUS`, so the rows ``seqlab papers`` prints are computed from
the registry, with the implemented / partial / not-implemented judgement kept in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seqlab.papers.catalog import CATALOG
from seqlab.papers.status import judgement
from seqlab.registry import all_entries


@dataclass
class PaperRow:
    number: int
    title: str
    module: str
    works_when: str
    status: str = "not implemented"
    note: str = ""
    components: list[str] = field(default_factory=list)  # "kind:name" of every component it uses
    implemented_by: list[str] = field(default_factory=list)  # the subset that implements its method


TITLES = {title: (number, module, works) for number, title, module, works in CATALOG}


def unknown_titles() -> list[tuple[str, str]]:
    """(component, title) pairs whose ``used_by`` title is not in the catalog: typos to fix."""
    return [(f"{e.kind}:{e.name}", t) for e in all_entries() for t in e.used_by if t not in TITLES]


def paper_rows() -> list[PaperRow]:
    """One row per catalog paper: its judgement, the components using it and those implementing it."""
    rows = {}
    for t, (n, m, w) in TITLES.items():
        j = judgement(t)
        rows[t] = PaperRow(n, t, m, w, j.status, j.note)
    for e in all_entries():
        ref = f"{e.kind}:{e.name}"
        for t in e.used_by:
            if t in rows:
                rows[t].components.append(ref)
        for p in e.implements:
            if p.title in rows:
                rows[p.title].implemented_by.append(ref)
                if ref not in rows[p.title].components:
                    rows[p.title].components.append(ref)
    return sorted(rows.values(), key=lambda r: r.number)
