"""Benchmarks: grids, the resumable results store, the runner, the report, and the speed benchmark."""

from seqlab.bench.grid import Grid, load_grid, load_suite, suite_names
from seqlab.bench.runner import run_grid
from seqlab.bench.store import ResultStore

__all__ = ["Grid", "ResultStore", "load_grid", "load_suite", "run_grid", "suite_names"]
