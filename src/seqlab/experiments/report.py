"""The one report: a self-contained HTML page (plus ``summary.md``) assembled from pluggable sections.

A *section source* is a function ``source(rows, context) -> Section | list[Section] | None`` that
turns store rows (dicts from :meth:`ResultStore.rows`, of any kind) into one or more sections;
``context`` carries whatever else the sources need (the store, claim results, a speed JSON path).
Modules register theirs with :func:`register_section` (bench: figures and the results table;
claims: the claims table; continual and speed: their tables) and the ``seqlab report`` command
imports them; :func:`build_report` runs every registered source (in ``order``) and writes the page.

Every page starts with the provenance section: how many rows each code version made, and how many
are *stale* (made by another code version than the running one; ``seqlab bench --rerun-stale``
retrains them). Tables mark stale rows. Everything from a config or a result is HTML-escaped; the
page embeds its figures as base64 PNG and loads nothing from a network.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CSS = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}th{background:#f3f3f3}"
    "img{max-width:100%;border:1px solid #eee;margin:.5em 0}.pass{color:#070}.fail{color:#a00}"
    "tr.stale td{color:#888;font-style:italic}"
)
STALE_MARK = "†"


@dataclass
class Section:
    """One part of the report: a title, HTML body, Markdown body and PNG figures (caption, path)."""

    title: str
    html: str = ""
    markdown: str = ""
    figures: list[tuple[str, Path]] = field(default_factory=list)
    order: int = 50


SectionSource = Callable[[list[dict], dict], "Section | Iterable[Section] | None"]
_SOURCES: dict[str, tuple[int, SectionSource]] = {}


def register_section(name: str, order: int = 50):
    """Decorator: register ``source(rows, context)`` under ``name``; lower ``order`` comes first."""

    def deco(fn: SectionSource) -> SectionSource:
        _SOURCES[name] = (order, fn)
        return fn

    return deco


def section_names() -> list[str]:
    return [n for n, _ in sorted(_SOURCES.items(), key=lambda kv: (kv[1][0], kv[0]))]


def md_table(head, body) -> str:
    lines = ["| " + " | ".join(str(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in body]
    return "\n".join(lines)


def html_table(head, body, row_classes: list[str] | None = None) -> str:
    """An escaped HTML table; ``row_classes[i]`` is the CSS class of row i (e.g. "stale")."""
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    trs = []
    for i, row in enumerate(body):
        cls = row_classes[i] if row_classes and i < len(row_classes) and row_classes[i] else ""
        attr = f' class="{html.escape(cls)}"' if cls else ""
        trs.append(f"<tr{attr}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(trs)}</tbody></table>"


def table_section(title: str, head, body, *, row_classes=None, text: str = "", order: int = 50) -> Section:
    """A section holding one table (and an optional paragraph before it)."""
    para_html = f"<p>{html.escape(text)}</p>" if text else ""
    return Section(
        title,
        html=para_html + html_table(head, body, row_classes),
        markdown=(text + "\n\n" if text else "") + md_table(head, body),
        order=order,
    )


def text_section(title: str, text: str, order: int = 50) -> Section:
    return Section(title, html=f"<p>{html.escape(text)}</p>", markdown=text, order=order)


def _short(version: str | None) -> str:
    if not version:
        return "unknown (stored before provenance was recorded)"
    return version[:12] if len(version) == 40 else version


def provenance_section(rows: list[dict], current: str | None = None) -> Section:
    """Rows per (kind, code version), the stale count, and how to refresh stale rows."""
    groups: dict[tuple[str, str | None], list[dict]] = {}
    for r in rows:
        groups.setdefault((r.get("kind", "bench"), r.get("code_version")), []).append(r)
    body = [
        [kind, _short(version), "stale" if any(r.get("stale") for r in rs) else "current", len(rs)]
        for (kind, version), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
    ]
    stale = sum(1 for r in rows if r.get("stale"))
    text = f"{len(rows)} rows; code now: {_short(current)}." if current else f"{len(rows)} rows."
    if stale:
        text += (
            f" {stale} rows were made by another code version ({STALE_MARK} in the tables); "
            f"`seqlab bench --rerun-stale` retrains them."
        )
    return table_section("Provenance", ["kind", "code version", "status", "rows"], body, text=text, order=0)


def build_sections(rows: list[dict], context: dict[str, Any] | None = None, names=None) -> list[Section]:
    """Run the registered section sources (all, or ``names``) on ``rows``; sorted by order."""
    context = dict(context or {})
    wanted = section_names() if names is None else list(names)
    unknown = [n for n in wanted if n not in _SOURCES]
    if unknown:
        raise ValueError(f"unknown report section(s) {unknown}; registered: {', '.join(section_names())}")
    out: list[Section] = []
    for name in wanted:
        made = _SOURCES[name][1](rows, context)
        if made is None:
            continue
        out.extend([made] if isinstance(made, Section) else list(made))
    return sorted(out, key=lambda s: s.order)


def render(out_dir, sections: list[Section], *, title: str, notes: str = "") -> Path:
    """Write ``report.html`` and ``summary.md`` of ``sections`` into ``out_dir``; returns the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = [f"# {title}", notes]
    page = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(notes)}</p>" if notes else ""]
    for s in sections:
        md.append(f"## {s.title}")
        page.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.markdown:
            md.append(s.markdown)
        page.append(s.html)
        for caption, path in s.figures:
            path = Path(path)
            md.append(f"![{caption}]({path.name})")
            data = base64.b64encode(path.read_bytes()).decode()
            page.append(f'<img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">')
    (out / "summary.md").write_text("\n\n".join(s for s in md if s) + "\n")
    doc = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(page)}</body></html>"
    )
    path = out / "report.html"
    path.write_text(doc)
    return path


def build_report(
    rows: list[dict],
    out_dir,
    *,
    title: str = "seqlab report",
    context: dict[str, Any] | None = None,
    names=None,
    notes: str = "",
    current_version: str | None = None,
) -> Path:
    """The provenance section plus every registered section of ``rows``, written to ``out_dir``."""
    context = {**(context or {}), "out_dir": Path(out_dir)}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    sections = [provenance_section(rows, current_version), *build_sections(rows, context, names)]
    return render(out_dir, sections, title=title, notes=notes)


__all__ = [
    "STALE_MARK",
    "Section",
    "build_report",
    "build_sections",
    "html_table",
    "md_table",
    "provenance_section",
    "register_section",
    "render",
    "section_names",
    "table_section",
    "text_section",
]
