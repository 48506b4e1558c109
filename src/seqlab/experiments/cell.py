"""Experiment cells: one seeded run of a module's experiment, stored and judged like a grid cell.

The bench grid trains :class:`~seqlab.experiments.config.RunConfig` s and continual learning its
``ContinualCell`` s; every other module (embed, probe, reason, recsys, decode, ...) measures its
claims with an *experiment*: a plain function ``fn(params: dict, seed: int) -> dict`` registered
under a dotted name whose first part is the seqlab package that defines it::

    # in seqlab/embed/experiments.py (imported by seqlab/embed/__init__.py)
    from seqlab.registry import experiment   # the registry sits below every package

    @experiment("embed.lmk_vs_cls")
    def lmk_vs_cls(params, seed):
        ...
        return {"lmk": 0.71, "cls": 0.55, "mean": 0.62}

    cell = ExperimentCell("embed.lmk_vs_cls", {"length": 512}, seed=0)

A cell's store ``kind`` is that package name ("embed"), its key hashes the name, params and seed
(:func:`~seqlab.experiments.config.config_key`), and :func:`run_experiment_cell` adds ``wall_time``
and ``cpu_time`` to the returned dict. A claim (:class:`~seqlab.experiments.claim.Claim`) whose
``make_runs(seed)`` returns cells reads their result dicts by run name, exactly as it reads bench
rows; :func:`run_claim_cells` trains the missing ones through the crash-safe runner, one process
per cell, resumable after a kill.

The experiment function must be deterministic given ``(params, seed)``, use one thread (the
runner sets it), create its own data from the seed, and return JSON-ready numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from seqlab.experiments.config import config_key
from seqlab.registry import EXPERIMENT_NAME as _NAME
from seqlab.registry import experiment, experiment_names, get_experiment

__all__ = [
    "ExperimentCell",
    "claim_cells",
    "experiment",
    "experiment_names",
    "get_experiment",
    "run_claim_cells",
    "run_experiment_cell",
]


@dataclass(frozen=True)
class ExperimentCell:
    """One run: experiment ``experiment`` with ``params`` and ``seed``; stored under kind :attr:`kind`."""

    experiment: str
    params: dict = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.experiment, str) or not _NAME.match(self.experiment):
            raise ValueError(f"experiment name must be 'package.what', got {self.experiment!r}")
        if not isinstance(self.params, dict):
            raise ValueError(f"params must be a dict, got {type(self.params).__name__}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")

    @property
    def kind(self) -> str:
        return self.experiment.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "params": dict(self.params), "seed": self.seed}

    def key(self) -> str:
        return config_key(self.to_dict())

    def label(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.experiment} {extra} seed {self.seed}".replace("  ", " ")


def run_experiment_cell(cell: ExperimentCell, checkpoint_dir=None, resume: bool = False) -> dict:
    """Run one cell in this process (one thread, seeded); its result dict plus wall and CPU seconds."""
    fn = get_experiment(cell.experiment)
    torch.set_num_threads(1)
    torch.manual_seed(cell.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(dict(cell.params), cell.seed)
    if not isinstance(out, dict):
        raise TypeError(f"experiment {cell.experiment!r} returned {type(out).__name__}, expected a dict")
    out = dict(out)
    out.setdefault("wall_time", time.perf_counter() - t0)
    out.setdefault("cpu_time", time.process_time() - c0)
    return out


def claim_cells(claim) -> list[ExperimentCell]:
    """The experiment cells among ``claim``'s runs (empty for a bench or continual claim)."""
    return [c for c in claim.runs if isinstance(c, ExperimentCell)]


def run_claim_cells(claim, store, workers: int = 2, log=print):
    """Run every experiment cell of ``claim`` missing from ``store`` (one kind per claim)."""
    from seqlab.experiments.runner import run_cells

    cells = claim_cells(claim)
    kinds = {c.kind for c in cells}
    if len(kinds) != 1:
        raise ValueError(
            f"claim {claim.name!r}: expected experiment cells of one package, got {sorted(kinds)}"
        )
    return run_cells(
        cells,
        store,
        run_experiment_cell,
        kind=kinds.pop(),
        name=f"claim:{claim.name}",
        workers=workers if workers > 1 else 0,
        resume=True,
        log=log,
        label=ExperimentCell.label,
    )
