"""Cost of the mixer contract's checks beside one step of each mixer (CPU, batch 1).

    PYTHONPATH=src python benchmarks/mixer_checks.py [--d-model 64] [--mixers a,b] [--out PATH]

Per registered mixer with a step mode: the median (over ``--repeats`` rounds of ``--number`` calls)
time of ``check_input`` + ``check_state`` (what ``Mixer.step`` adds before the mixer's math), of the
value check the checks used to run on every call (``torch.isfinite(x).all()``, now only under
``seqlab.debug``; on a GPU it also synchronises the device), and of a whole ``step``. The checks
read no tensor values, so they cost the same on any device. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit
from pathlib import Path

import torch

from seqlab.registry import create, names

OUT = Path(__file__).parent / "results" / "cpu-2core" / "mixer_checks.json"


def median_us(fn, number: int, repeats: int) -> float:
    fn()  # warm-up
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeats)) / number * 1e6


def measure(name: str, d_model: int, number: int, repeats: int) -> dict | None:
    torch.manual_seed(0)
    m = create("mixer", name, d_model=d_model).eval()
    if "step" not in m.modes:
        return None
    x = torch.randn(1, d_model)
    state = m.init_state(1)

    def checks():
        m.check_input(x, step=True)
        m.check_state(state, 1, x.dtype, x.device)

    with torch.no_grad():
        row = {
            "mixer": name,
            "checks_us": median_us(checks, number, repeats),
            "isfinite_us": median_us(lambda: bool(torch.isfinite(x).all()), number, repeats),
            "step_us": median_us(lambda: m.step(x, state), max(1, number // 20), repeats),
        }
    row["checks_share"] = row["checks_us"] / row["step_us"]
    return row


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--mixers", default=None, help="comma-separated names (default: every registered mixer)")
    p.add_argument("--number", type=int, default=2000, help="calls per timing round")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    chosen = args.mixers.split(",") if args.mixers else names("mixer")
    rows = [r for n in chosen if (r := measure(n, args.d_model, args.number, args.repeats))]
    print(f"{'mixer':<18}{'checks us':>10}{'isfinite us':>13}{'step us':>10}{'checks/step':>13}")
    for r in rows:
        print(f"{r['mixer']:<18}{r['checks_us']:>10.1f}{r['isfinite_us']:>13.1f}{r['step_us']:>10.0f}"
              f"{100 * r['checks_share']:>12.1f}%")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"d_model": args.d_model, "batch": 1, "threads": 1, "torch": torch.__version__}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
