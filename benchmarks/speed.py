"""Speed benchmark of every registered mixer: fwd+bwd time (median, spread) and peak memory, plus the
fast-path checks; writes a Markdown table and the JSON under ``benchmarks/results/``.

    python benchmarks/speed.py [--quick] [--lengths 256,1024,4096,16384] [--mixers a,b] [--out PATH]
                               [--store results/bench.sqlite | --no-store]

``seqlab speed`` runs the same measurement; the logic lives in :mod:`seqlab.bench.speed`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seqlab.bench.speed import add_arguments, config_from_args, run_speed
from seqlab.bench.speed.config import store_from_args
from seqlab.bench.speed.display import markdown

RESULTS = Path(__file__).parent / "results"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, out=str(RESULTS / "speed.json"))
    args = parser.parse_args(argv)
    result = run_speed(config_from_args(args), store=store_from_args(args))
    table = Path(args.out).with_suffix(".md")
    table.write_text(markdown(result))
    print(f"wrote {table}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
