"""Benchmarks: the capability suites, one run (:func:`seqlab.bench.run.run_one`) and the bench sections
of the report. Grids, the runner, the results store and the report page live in
:mod:`seqlab.experiments`; the names below are re-exported for old imports.
"""

from seqlab.bench.grid import Grid, load_grid, load_suite, suite_names
from seqlab.bench.runner import run_grid
from seqlab.experiments.store import ResultStore

__all__ = ["Grid", "ResultStore", "load_grid", "load_suite", "run_grid", "suite_names"]
