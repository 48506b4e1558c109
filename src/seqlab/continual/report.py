"""Continual-learning tables: Markdown (``<out>/<protocol>.md``) and a section of the one HTML report.

Each table is strategy x scenario, final average accuracy (or forgetting) in % as mean +- standard
error over seeds; ``n/a`` marks a refused combination, ``error`` a cell that failed, and the stale
mark (:data:`~seqlab.experiments.report.STALE_MARK`) a value resting on a stale row (made by another
code version than the running one; ``seqlab continual --rerun-stale`` refreshes them). The section
source "continual" of :mod:`seqlab.experiments.report` renders the store's continual rows.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

from seqlab.continual.scenarios import SCENARIOS
from seqlab.experiments.report import STALE_MARK, Section, register_section

KIND = "continual"

METRICS = {"avg_acc": "Final average accuracy (%)", "forgetting": "Forgetting (%)"}


def flat_row(row: dict) -> dict:
    """A store row of kind "continual" as the flat dict the tables read (cell, result, ``stale``)."""
    return {**row["config"], **row["result"], "stale": row.get("stale", False), "key": row["key"]}


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (NaN for one value) of a non-empty list."""
    if not values:
        raise ValueError("mean_se needs at least one value")
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, float("nan")
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    return m, math.sqrt(var / n)


def grid(rows: list[dict], metric: str = "avg_acc") -> tuple[list[str], list[list[str]]]:
    """(header, body) of the strategy x scenario table of ``metric``."""
    strategies = sorted({r["strategy"] for r in rows})
    scenarios = [s for s in SCENARIOS if any(r["scenario"] == s for r in rows)]
    body = []
    for st in strategies:
        cells = []
        for sc in scenarios:
            rs = [r for r in rows if r["strategy"] == st and r["scenario"] == sc]
            vals = [r[metric] for r in rs if metric in r]
            if rs and all("refused" in r for r in rs):
                cells.append("n/a")
            elif rs and not vals and any("error" in r for r in rs):
                cells.append("error")
            elif not vals:
                cells.append("")
            else:
                m, se = mean_se(vals)
                text = f"{100 * m:.1f} +- {100 * se:.1f}" if not math.isnan(se) else f"{100 * m:.1f}"
                stale = any(r.get("stale") for r in rs if metric in r)
                cells.append(text + (STALE_MARK if stale else ""))
        body.append([st, *cells])
    return ["strategy", *(f"{s}-IL" for s in scenarios)], body


def table(rows: list[dict], metric: str = "avg_acc") -> str:
    """Markdown table: strategy x scenario, ``mean +- s.e.`` (in %) over seeds."""
    head, body = grid(rows, metric)
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---|" * (len(head) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _refused(rows: list[dict]) -> list[tuple[str, str, str]]:
    return sorted({(r["strategy"], r["scenario"], r["refused"]) for r in rows if "refused" in r})


def write_report(rows: list[dict], protocol: str, out: str | Path, command: str) -> Path:
    """Write ``<out>/<protocol>.md`` (atomically) and return its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = sorted({r["seed"] for r in rows})
    text = [
        f"# Continual learning: {protocol}",
        "",
        f"Command: `{command}`",
        "",
        f"Final average accuracy (%) after the last experience, mean +- standard error over "
        f"{len(seeds)} seed(s) {seeds}.",
        "",
        table(rows),
        "",
        "## Forgetting (%)",
        "",
        table(rows, "forgetting"),
        "",
    ]
    if any(r.get("stale") for r in rows):
        text += [f"{STALE_MARK}: from a stale row (another code version); `--rerun-stale` refreshes it.", ""]
    refused = _refused(rows)
    if refused:
        text += ["## Refused combinations", ""] + [f"- {a} / {b}: {c}" for a, b, c in refused] + [""]
    path = out / f"{protocol}.md"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(text))
    os.replace(tmp, path)
    return path


def _html_table(head: list[str], body: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def html_section(rows: list[dict]) -> str:
    """The continual section of the HTML report: per protocol, accuracy and forgetting tables
    (every string escaped). ``rows``: flat continual rows
    (:func:`seqlab.continual.protocol.stored_rows`)."""
    if not rows:
        return "<p>No continual-learning results in this store: run <code>seqlab continual</code>.</p>"
    parts = []
    for protocol in sorted({r["protocol"] for r in rows}):
        mine = [r for r in rows if r["protocol"] == protocol]
        seeds = sorted({r["seed"] for r in mine})
        parts.append(f"<h3>{html.escape(protocol)}</h3>")
        parts.append(
            f"<p>mean +- standard error over {len(seeds)} seed(s); n/a: refused; {STALE_MARK}: stale row</p>"
        )
        for metric, title in METRICS.items():
            parts += [f"<h4>{html.escape(title)}</h4>", _html_table(*grid(mine, metric))]
        refused = _refused(mine)
        if refused:
            items = "".join(f"<li>{html.escape(f'{a} / {b}: {c}')}</li>" for a, b, c in refused)
            parts.append(f"<details><summary>Refused combinations</summary><ul>{items}</ul></details>")
    return "\n".join(parts)


def markdown_tables(rows: list[dict]) -> str:
    """Per protocol, the accuracy and forgetting tables as Markdown."""
    parts = []
    for protocol in sorted({r["protocol"] for r in rows}):
        mine = [r for r in rows if r["protocol"] == protocol]
        for metric, title in METRICS.items():
            parts += [f"### {protocol}: {title}", "", table(mine, metric), ""]
    return "\n".join(parts)


@register_section("continual", order=70)
def continual_section(rows, context):
    """The continual rows of the store (kind "continual") as report tables; None when there are none."""
    flat = [flat_row(r) for r in rows if r.get("kind") == KIND]
    if not flat:
        return None
    return Section("Continual learning", html=html_section(flat), markdown=markdown_tables(flat), order=70)
