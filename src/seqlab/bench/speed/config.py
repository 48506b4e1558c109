"""What a speed run measures (:class:`SpeedConfig`) and the command-line options that set it."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_STORE = "results/bench.sqlite"  # the store `seqlab bench`, `continual` and `report` default to


@dataclass
class SpeedConfig:
    lengths: tuple[int, ...] = (256, 1024, 4096, 16384)
    mixers: tuple[str, ...] | None = None  # None: every registered mixer
    d_model: int = 128
    batch: int = 2
    threads: int = 2
    warmup: int = 1  # warm-up runs per cell at least; more until two runs agree (experiments.timing)
    max_warmup: int = 5
    repeats: int = 5  # timed runs per cell; more (up to max_repeats) while the spread is too wide
    max_repeats: int = 9
    max_spread: float = 0.25  # IQR / median above this flags a cell "unreliable"
    memory_budget_mb: float = 2048.0
    time_budget_s: float = 120.0
    check_repeats: int = 7
    scaling: tuple[int, int] = (1024, 16384)
    scan_length: int = 4096
    scan_min_speedup: float = 10.0
    fla_lengths: tuple[int, ...] = (1024, 4096)
    fla_min_speedup: float = 2.0
    finite_length: int = 65536
    finite_d_model: int = 16
    seed: int = 0
    device: str = "cpu"
    out: str = "results/speed.json"

    def __post_init__(self):
        if not self.lengths or any(int(n) < 1 for n in self.lengths):
            raise ValueError(f"lengths must be positive ints, got {self.lengths}")
        if self.warmup < 0 or self.max_warmup < self.warmup:
            raise ValueError(f"need 0 <= warmup <= max_warmup, got {self.warmup}, {self.max_warmup}")
        if self.repeats < 1 or self.max_repeats < self.repeats:
            raise ValueError(f"need 1 <= repeats <= max_repeats, got {self.repeats}, {self.max_repeats}")
        if self.check_repeats < 1:
            raise ValueError(f"check_repeats must be >= 1, got {self.check_repeats}")
        if not self.max_spread > 0:
            raise ValueError(f"max_spread must be > 0, got {self.max_spread}")


def quick_config(**kw) -> SpeedConfig:
    """A tiny smoke run (seconds): short lengths, three repeats (the fewest that give a spread)."""
    cfg = dict(
        lengths=(16, 64),
        d_model=16,
        warmup=1,
        max_warmup=3,
        repeats=3,
        max_repeats=3,
        scaling=(16, 64),
        scan_length=256,
        fla_lengths=(128,),
        finite_length=512,
        time_budget_s=10.0,
        check_repeats=3,
    )
    cfg.update(kw)
    return SpeedConfig(**cfg)


def _ints(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise ValueError(f"expected comma-separated positive ints, got {text!r}") from err
    if not vals or min(vals) < 1:
        raise ValueError(f"expected comma-separated positive ints, got {text!r}")
    return vals


def add_arguments(p, out: str = "results/speed.json") -> None:
    """Options shared by ``seqlab speed`` and ``benchmarks/speed.py``."""
    p.add_argument("--quick", action="store_true", help="tiny smoke run (short lengths, three repeats)")
    p.add_argument("--lengths", default=None, help="comma-separated lengths (default 256,1024,4096,16384)")
    p.add_argument("--mixers", default=None, help="comma-separated mixer names (default: every registered)")
    p.add_argument("--out", default=out, help="JSON output path")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per cell (median reported)")
    p.add_argument(
        "--max-spread",
        type=float,
        default=0.25,
        help="a cell whose IQR/median exceeds this is flagged unreliable",
    )
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--device", default="cpu", help="torch device to time on: cpu (default) or cuda[:N]")
    p.add_argument(
        "--memory-budget-mb",
        type=float,
        default=2048.0,
        help="skip O(L^2)-memory mixers predicted above this peak",
    )
    p.add_argument(
        "--store",
        default=DEFAULT_STORE,
        help="results store (SQLite) that also receives every cell and check as rows of kind 'speed' "
        "(the store seqlab bench, continual and report use)",
    )
    p.add_argument("--no-store", action="store_true", help="write only the JSON, no store rows")


def store_from_args(args) -> str | None:
    """The store path the options ask for (None with ``--no-store``)."""
    return None if args.no_store or not args.store else args.store


def config_from_args(args) -> SpeedConfig:
    kw = {
        "out": args.out,
        "threads": args.threads,
        "memory_budget_mb": args.memory_budget_mb,
        "device": args.device,
        "max_spread": args.max_spread,
    }
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.lengths:
        kw["lengths"] = _ints(args.lengths)
    if args.mixers:
        kw["mixers"] = tuple(m.strip() for m in args.mixers.split(",") if m.strip())
    if args.repeats is not None:
        if args.repeats < 1:
            raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
        kw["repeats"] = args.repeats
        kw["max_repeats"] = max(args.repeats, 2 * args.repeats - 1)
    cfg = quick_config(**kw) if args.quick else SpeedConfig(**kw)
    if args.lengths and not set(cfg.scaling) <= set(cfg.lengths):  # scale check across the given range
        cfg.scaling = (min(cfg.lengths), max(cfg.lengths))
    return cfg
