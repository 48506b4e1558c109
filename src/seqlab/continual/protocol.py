"""Protocols: every strategy x scenario x seed on one stream, resumable, in the one results store.

A cell :class:`ContinualCell` ``(protocol, strategy, scenario, seed, cfg)`` runs
:func:`seqlab.continual.runner.run` through the experiment layer's runner
(:func:`seqlab.experiments.runner.run_cells`): worker processes with one torch thread each, one row
of kind ``"continual"`` per finished cell in the SQLite results store (with its provenance), claims so
that two protocols on one store split the work, and a checkpoint after every experience so a killed
cell resumes where it stopped. A restarted protocol skips the cells the store holds; a cell that
failed (e.g. a diverging loss) is not stored and is retried. A cell's key hashes the fields that were
set (:func:`seqlab.experiments.config.config_key`), so adding a field to :class:`TrainConfig` with a
default does not orphan stored rows. Tables: :mod:`seqlab.continual.report`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from seqlab.continual.report import KIND, flat_row, mean_se, table, write_report  # noqa: F401  (re-exported)
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
from seqlab.experiments.config import config_key, set_fields
from seqlab.experiments.runner import run_cells
from seqlab.experiments.store import ResultStore
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


@dataclass(frozen=True)
class ContinualCell:
    """One cell of a protocol; ``key()`` hashes the protocol, names, seed and the set fields of ``cfg``."""

    protocol: str
    strategy: str
    scenario: str
    seed: int
    cfg: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "strategy": self.strategy,
            "scenario": self.scenario,
            "seed": self.seed,
            "cfg": asdict(self.cfg),
        }

    def key(self) -> str:
        return config_key({**self.to_dict(), "cfg": set_fields(self.cfg)})

    def label(self) -> str:
        return f"{self.strategy} {self.scenario} seed {self.seed}"


def run_cell(cell: ContinualCell, checkpoint_dir=None, resume: bool = False) -> dict:
    """Train one cell; its result row (``refused`` holds the reason for an unsupported pair).

    Errors (e.g. a diverging loss) propagate: the runner reports them and a restart retries the cell.
    """
    torch.set_num_threads(1)
    strat = make_strategy(cell.strategy, seed=cell.seed)
    try:
        strat.check_scenario(cell.scenario)
    except ValueError as err:
        return {"refused": str(err)}
    t0 = time.perf_counter()
    res = run(
        strat,
        make_stream(cell.protocol, cell.scenario),
        cell.cfg,
        seed=cell.seed,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
    )
    return {**res.summary, "R": res.R, "seconds": time.perf_counter() - t0}


@contextlib.contextmanager
def _opened(store):
    if isinstance(store, ResultStore):
        yield store
    else:
        with ResultStore(store) as st:
            yield st


def stored_rows(store, protocol: str | None = None) -> list[dict]:
    """Every continual row of ``store`` (a :class:`ResultStore` or its path), flattened."""
    with _opened(store) as st:
        rows = [flat_row(r) for r in st.rows(kind=KIND)]
    return [r for r in rows if protocol is None or r["protocol"] == protocol]


def run_protocol(
    protocol: str,
    strategies: list[str] | None = None,
    scenarios: list[str] | None = None,
    seeds: list[int] | None = None,
    cfg: TrainConfig | None = None,
    out: str | Path = "report/continual",
    workers: int = 2,
    log=print,
    *,
    store=None,
    rerun_stale: bool = False,
    progress: bool = False,
) -> list[dict]:
    """Run (or resume) the grid; returns one row per requested cell (failed cells carry ``error``).

    ``store``: the results store (a :class:`ResultStore` or a path; default ``<out>/results.sqlite``).
    ``workers``: worker processes; 1 runs the cells in this process.
    """
    strategies = strategies or names("strategy")
    for s in strategies:
        get("strategy", s)  # KeyError listing valid names
    scenarios = scenarios or list(SCENARIOS)
    for sc in scenarios:
        if sc not in SCENARIOS:
            raise ValueError(f"unknown scenario {sc!r}; expected a subset of {SCENARIOS}")
    seeds = seeds if seeds is not None else list(range(5))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    cfg = cfg or TrainConfig()
    make_stream(protocol, scenarios[0])  # fail early on an unknown protocol or missing data package
    cells = [
        ContinualCell(protocol, st, sc, seed, cfg) for seed in seeds for sc in scenarios for st in strategies
    ]
    store = Path(out) / "results.sqlite" if store is None else store
    with _opened(store) as st:
        have = st.keys(KIND) - (st.stale_keys(KIND) if rerun_stale else set())
        n_have = sum(c.key() in have for c in cells)
        log(f"{protocol}: {n_have} cells already done, {len(cells) - n_have} to run with {workers} worker(s)")
        outcome = run_cells(
            cells,
            st,
            run_cell,
            kind=KIND,
            name=protocol,
            workers=workers if workers > 1 else 0,
            resume=True,
            rerun_stale=rerun_stale,
            progress=progress,
            log=log,
        )
        by_key = {r["key"]: flat_row(r) for r in st.rows([c.key() for c in cells], kind=KIND)}
    rows = []
    for c in cells:
        if c.key() in by_key:
            rows.append(by_key[c.key()])
        elif c.key() in outcome.failed:
            rows.append({**c.to_dict(), "key": c.key(), "error": outcome.failed[c.key()].splitlines()[0]})
    return rows
