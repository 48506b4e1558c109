"""Speed of every registered mixer: fwd+bwd time and peak memory table, plus the fast-path checks.

    python benchmarks/mixers.py [--quick] [--lengths 256,1024,4096,16384] [--mixers a,b] [--out PATH]

Same as ``seqlab speed``; the logic lives in :mod:`seqlab.bench.speed`.
"""

from __future__ import annotations

import argparse

from seqlab.bench.speed import add_arguments, config_from_args, run_speed

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    run_speed(config_from_args(parser.parse_args()))
