"""``seqlab speed``: time forward+backward and peak memory of every registered mixer, plus checks.

A thin front end of :mod:`seqlab.bench.speed` (the same as ``python benchmarks/speed.py``).
"""

from __future__ import annotations

from seqlab.bench.speed import add_arguments as _add_arguments
from seqlab.bench.speed import config_from_args, run_speed
from seqlab.bench.speed.config import store_from_args

NAME = "speed"
HELP = "speed/memory table of every mixer + scaling, scan, fla and finiteness checks (writes JSON)"


def add_arguments(p):
    _add_arguments(p)


def run(args) -> int:
    run_speed(config_from_args(args), store=store_from_args(args))
    return 0
