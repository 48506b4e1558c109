"""Speed benchmark of every registered mixer, plus four checks of the fast paths (not a test).

For each mixer (iterating the registry) and length it times forward + backward of
``mixer(x).square().mean()`` with ``x: (batch, length, d_model)`` on ``device``: warm-up until two
runs agree, then the median and spread (IQR / median) of the timed runs
(:mod:`seqlab.experiments.timing`), a cell whose spread is too wide flagged "unreliable", and
peak memory on one more run (:mod:`.memory`). The checks are in :mod:`.checks`.

Modules: :mod:`.config` (what to measure, command-line options), :mod:`.memory` (peak-memory
probe), :mod:`.table` (the mixer table), :mod:`.checks` (the four checks), :mod:`.fla` (fla's
reference loaded without Triton), :mod:`.display` (rich tables), :mod:`.run` (the driver, JSON and
the results store). ``seqlab speed`` and ``benchmarks/speed.py`` are thin front ends.
"""

from seqlab.bench.speed.checks import check_finite, check_fla, check_scaling, check_scan
from seqlab.bench.speed.config import SpeedConfig, add_arguments, config_from_args, quick_config
from seqlab.bench.speed.fla import HINT as FLA_HINT
from seqlab.bench.speed.fla import load_fla_naive
from seqlab.bench.speed.run import run_speed, write_json
from seqlab.bench.speed.table import extrapolate, state_growth, time_mixers

__all__ = [
    "FLA_HINT",
    "SpeedConfig",
    "add_arguments",
    "check_finite",
    "check_fla",
    "check_scaling",
    "check_scan",
    "config_from_args",
    "extrapolate",
    "load_fla_naive",
    "quick_config",
    "run_speed",
    "state_growth",
    "time_mixers",
    "write_json",
]
