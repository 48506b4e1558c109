"""Protocols: every strategy x scenario x seed on one stream, resumable, summarized as a table.

A cell ``(strategy, scenario, seed)`` runs :func:`seqlab.continual.runner.run` and appends one JSON line
to ``<out>/<protocol>.jsonl`` as soon as it finishes (flushed and fsynced); a restarted protocol skips
the cells already there. Cells run in worker processes (one torch thread each). The table reports
final average accuracy as mean +- standard error over seeds, one row per strategy and one column per
scenario; refused combinations show the reason.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch

from seqlab.continual.runner import make_strategy, run
from seqlab.continual.scenarios import (
    SCENARIOS,
    blurry,
    online,
    permuted_stream,
    sequence_stream,
    split_stream,
)
from seqlab.continual.strategy import TrainConfig
from seqlab.registry import get, names

PROTOCOLS = {
    "split-mnist": lambda scenario: split_stream("mnist", scenario),
    "permuted-mnist": lambda scenario: permuted_stream("mnist", scenario, n_tasks=5),
    "split-mnist1d": lambda scenario: split_stream("mnist1d", scenario),
    "split-digits": lambda scenario: split_stream("digits", scenario),
    "sequence-tasks": lambda scenario: sequence_stream(scenario=scenario),
}


def make_stream(protocol: str, scenario: str):
    """``protocol`` is a name of :data:`PROTOCOLS`, optionally prefixed ``online-`` and/or
    ``blurry<percent>-`` (e.g. ``online-blurry10-split-mnist``)."""
    mods = []
    while protocol.startswith(("online-", "blurry")):
        head, protocol = protocol.split("-", 1)
        mods.append(head)
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    stream = PROTOCOLS[protocol](scenario)
    for m in reversed(mods):
        if m == "online":
            stream = online(stream)
        else:
            try:
                stream = blurry(stream, int(m.removeprefix("blurry")) / 100)
            except ValueError as err:
                raise ValueError(
                    f"bad blurry modifier {m!r}: expected blurry<percent>, e.g. blurry10"
                ) from err
    return stream


def run_cell(protocol: str, strategy: str, scenario: str, seed: int, cfg: TrainConfig) -> dict:
    """One finished cell as a JSON-able row (``refused`` holds the reason for unsupported pairs)."""
    torch.set_num_threads(1)
    row = {"protocol": protocol, "strategy": strategy, "scenario": scenario, "seed": seed, "cfg": asdict(cfg)}
    strat = make_strategy(strategy, seed=seed)
    try:
        strat.check_scenario(scenario)
    except ValueError as err:
        return {**row, "refused": str(err)}
    t0 = time.perf_counter()
    try:
        res = run(strat, make_stream(protocol, scenario), cfg, seed=seed)
    except (ValueError, RuntimeError) as err:  # e.g. a diverging loss; recorded, retried on restart
        return {**row, "error": f"{type(err).__name__}: {err}"}
    return {**row, **res.summary, "R": res.R, "seconds": time.perf_counter() - t0}


def _key(row: dict) -> tuple:
    return row["strategy"], row["scenario"], int(row["seed"])


def read_rows(path: Path) -> list[dict]:
    """Rows of a results file; a torn last line (a killed run) is dropped, other damage raises."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    rows = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            if i == len(lines) - 1:  # no trailing newline: the write was cut short
                break
            raise ValueError(f"results file {path} line {i + 1} is not JSON: {err}") from err
    return rows


def _append(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _cell(args):
    return run_cell(*args)


def run_protocol(
    protocol: str,
    strategies: list[str] | None = None,
    scenarios: list[str] | None = None,
    seeds: list[int] | None = None,
    cfg: TrainConfig | None = None,
    out: str | Path = "report/continual",
    workers: int = 2,
    log=print,
) -> list[dict]:
    """Run (or resume) the grid; returns all rows for the requested cells."""
    strategies = strategies or names("strategy")
    for s in strategies:
        get("strategy", s)  # KeyError listing valid names
    scenarios = scenarios or list(SCENARIOS)
    for sc in scenarios:
        if sc not in SCENARIOS:
            raise ValueError(f"unknown scenario {sc!r}; expected a subset of {SCENARIOS}")
    seeds = seeds if seeds is not None else list(range(5))
    cfg = cfg or TrainConfig()
    make_stream(protocol, scenarios[0])  # fail early on an unknown protocol or missing data package
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{protocol}.jsonl"
    have = {_key(r): r for r in read_rows(path) if r.get("cfg") == asdict(cfg) and "error" not in r}
    todo = [
        (protocol, st, sc, seed, cfg)
        for seed in seeds
        for sc in scenarios
        for st in strategies
        if (st, sc, seed) not in have
    ]
    log(f"{protocol}: {len(have)} cells already done, {len(todo)} to run with {workers} worker(s)")
    if todo:
        ctx = mp.get_context("spawn" if workers > 1 else "fork")
        pool = ctx.Pool(workers) if workers > 1 else None
        it = pool.imap_unordered(_cell, todo) if pool else map(_cell, todo)
        try:
            for k, row in enumerate(it, 1):
                _append(path, row)
                have[_key(row)] = row
                acc = row.get("avg_acc")
                log(
                    f"[{k}/{len(todo)}] {row['strategy']:<20} {row['scenario']:<6} seed {row['seed']}: "
                    + (
                        row.get("error") or "refused"
                        if acc is None
                        else f"avg acc {acc:.3f} ({row['seconds']:.1f}s)"
                    )
                )
        finally:
            if pool:
                pool.close()
                pool.join()
    wanted = {(st, sc, s) for st in strategies for sc in scenarios for s in seeds}
    return [r for k, r in have.items() if k in wanted]


def mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, float("nan")
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    return m, math.sqrt(var / n)


def table(rows: list[dict], metric: str = "avg_acc") -> str:
    """Markdown table: strategy x scenario, ``mean +- s.e.`` (in %) over seeds."""
    strategies = sorted({r["strategy"] for r in rows})
    scenarios = [s for s in SCENARIOS if any(r["scenario"] == s for r in rows)]
    lines = [
        "| strategy | " + " | ".join(f"{s}-IL" for s in scenarios) + " |",
        "|---|" + "---|" * len(scenarios),
    ]
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
                cells.append(f"{100 * m:.1f} +- {100 * se:.1f}" if not math.isnan(se) else f"{100 * m:.1f}")
        lines.append(f"| {st} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(rows: list[dict], protocol: str, out: str | Path, command: str) -> Path:
    out = Path(out)
    seeds = sorted({r["seed"] for r in rows})
    refused = sorted({(r["strategy"], r["scenario"], r["refused"]) for r in rows if "refused" in r})
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
    if refused:
        text += ["## Refused combinations", ""] + [f"- {a} / {b}: {c}" for a, b, c in refused] + [""]
    path = out / f"{protocol}.md"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(text))
    os.replace(tmp, path)
    return path
