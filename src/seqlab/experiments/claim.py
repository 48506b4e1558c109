"""The claim type: a paper's headline effect as an experiment whose verdict is fixed before it runs.

The protocol (docs/papers.md) is enforced here, at construction and at evaluation:

- a claim declares the paper's reported effect and the ``threshold`` derived from it, on one
  metric with a ``direction`` ("higher" or "lower" is better), and the ``null`` value that means
  "no effect" on that metric (chance accuracy, a zero gain, a ratio of 1 to a baseline, ...);
- a positive control (:class:`Control`): a condition that must learn in distribution, with its
  target. If it misses, the claim is ``inconclusive`` -- an untrained model is never evidence;
- the strongest trivial baselines (:class:`Baseline`): chance, predict-zero or the mean,
  copy-last, ... that the effect must beat, and the optima (Bayes-optimal, least squares) whose
  gap is reported and, when ``allowed_gap`` is set, bounded;
- at least 3 seeds; the figure is the mean over seeds with its 95% Student-t interval
  (:func:`seqlab.experiments.stats.mean_interval`);
- its compute budget: ``seconds`` measured on 2 CPU cores.

Evaluation (:meth:`Claim.evaluate`): "not run" until every run of every seed is stored;
"inconclusive" when the positive control misses its target; "passed" when the interval excludes
the null and every must-beat baseline on the paper's side AND the mean reaches the threshold;
"failed" when the interval lies entirely on the wrong side of the threshold; otherwise
"inconclusive" (add seeds) -- a wide interval is never read as a pass or a fail.

A claim's runs are built per seed by ``make_runs(seed) -> {name: RunConfig}``; its ``measure``,
baselines and control read one seed's results by those names, so the same functions serve the
store and synthetic rows (the criterion tests feed trivial predictors and assert no pass).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from seqlab.experiments.stats import Interval, mean_interval

STATUSES = ("passed", "failed", "inconclusive", "not run")
DIRECTIONS = ("higher", "lower")
MIN_SEEDS = 3

SeedResults = Mapping[str, dict]  # run name -> that run's stored result dict, for one seed
Measure = Callable[[SeedResults], float]


@dataclass(frozen=True)
class Control:
    """Positive control: ``measure`` (one seed's results -> value) must reach ``target`` on average.

    ``description`` names the condition (e.g. "attention, in-distribution accuracy").
    """

    description: str
    target: float
    measure: Measure
    direction: str = "higher"

    def __post_init__(self):
        if not self.description:
            raise ValueError("a positive control needs a description of the condition it checks")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"control direction must be 'higher' or 'lower', got {self.direction!r}")
        if not callable(self.measure):
            raise ValueError("a positive control needs a callable measure(results) -> float")

    def reached(self, value: float) -> bool:
        return value >= self.target if self.direction == "higher" else value <= self.target


@dataclass(frozen=True)
class Baseline:
    """A reference predictor in the claim's metric: a fixed ``value`` or ``measure`` of one seed.

    ``kind``: "beat" -- a trivial predictor (chance, predict-zero, copy-last) the interval must
    exclude on the paper's side; "optimum" -- a computable optimum (Bayes-optimal, least squares)
    whose gap is reported, and bounded by the claim's ``allowed_gap`` when it sets one.
    """

    name: str
    value: float | None = None
    measure: Measure | None = None
    kind: str = "beat"

    def __post_init__(self):
        if not self.name:
            raise ValueError("a baseline needs a name")
        if (self.value is None) == (self.measure is None):
            raise ValueError(f"baseline {self.name!r}: give exactly one of value= or measure=")
        if self.kind not in ("beat", "optimum"):
            raise ValueError(f"baseline {self.name!r}: kind must be 'beat' or 'optimum', got {self.kind!r}")

    def of(self, results: SeedResults) -> float:
        return float(self.value) if self.value is not None else float(self.measure(results))


@dataclass(frozen=True)
class ClaimResult:
    """The verdict of one claim: status, figure (mean and 95% interval over seeds) and context."""

    status: str
    mean: float | None
    low: float | None
    high: float | None
    seeds: int
    seconds: float | None
    figure: str
    control: str
    baselines: dict[str, float] = field(default_factory=dict)
    name: str = ""
    direction: str = "higher"
    threshold: float | None = None
    per_seed: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["per_seed"] = list(self.per_seed)
        for k in ("mean", "low", "high"):
            if d[k] is not None and not math.isfinite(d[k]):
                d[k] = None
        return d


def _better(direction: str, a: float, b: float) -> bool:
    """a is strictly on the good side of b."""
    return a > b if direction == "higher" else a < b


@dataclass(frozen=True)
class Claim:
    """One paper's claim at laptop scale (see the module docstring for the protocol)."""

    name: str
    title: str  # the paper's exact catalog title
    statement: str  # what the paper says, at our scale
    effect: str  # the paper's reported effect (numbers as published)
    metric: str  # what ``measure`` returns, in words
    direction: str  # "higher" or "lower" is better
    threshold: float  # the mean must reach it (derived from ``effect``)
    null: float  # "no effect" on the metric
    control: Control
    baselines: tuple[Baseline, ...]
    seeds: tuple[int, ...]
    seconds: float  # measured budget on 2 CPU cores, all seeds
    make_runs: Callable[[int], Mapping[str, Any]]  # seed -> {run name: RunConfig}
    measure: Measure
    allowed_gap: float | None = None  # bound on |mean - optimum| for "optimum" baselines
    details: Callable[[Mapping[int, SeedResults]], str] | None = None  # extra figures (not judged)

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"claim {self.name!r}: direction must be 'higher' or 'lower', got {self.direction!r}"
            )
        object.__setattr__(self, "seeds", tuple(self.seeds))
        if len(set(self.seeds)) < MIN_SEEDS:
            raise ValueError(
                f"claim {self.name!r}: needs at least {MIN_SEEDS} distinct seeds, got {list(self.seeds)}"
            )
        if not isinstance(self.control, Control):
            raise ValueError(
                f"claim {self.name!r}: needs a positive control (a Control), got {self.control!r}"
            )
        object.__setattr__(self, "baselines", tuple(self.baselines))
        if not any(b.kind == "beat" for b in self.baselines):
            raise ValueError(
                f"claim {self.name!r}: needs at least one trivial baseline (kind 'beat') to beat"
            )
        if not _better(self.direction, self.threshold, self.null) and self.threshold != self.null:
            raise ValueError(
                f"claim {self.name!r}: threshold {self.threshold} must lie on the {self.direction} side of "
                f"the no-effect value {self.null}"
            )
        if self.allowed_gap is not None and not any(b.kind == "optimum" for b in self.baselines):
            raise ValueError(f"claim {self.name!r}: allowed_gap needs an 'optimum' baseline")
        if not self.seconds > 0:
            raise ValueError(f"claim {self.name!r}: seconds (its measured budget) must be > 0")
        for s in self.seeds:
            if not self.make_runs(s):
                raise ValueError(f"claim {self.name!r}: make_runs({s}) returned no runs")

    # -- runs ---------------------------------------------------------------------------------
    def runs_by_seed(self) -> dict[int, dict[str, Any]]:
        return {s: dict(self.make_runs(s)) for s in self.seeds}

    @property
    def runs(self) -> tuple:
        """Every RunConfig of every seed (distinct keys, in order)."""
        seen, out = set(), []
        for runs in self.runs_by_seed().values():
            for cfg in runs.values():
                if cfg.key() not in seen:
                    seen.add(cfg.key())
                    out.append(cfg)
        return tuple(out)

    def keys(self) -> list[str]:
        return [c.key() for c in self.runs]

    @property
    def criterion(self) -> str:
        """The pass rule in words (fixed before running)."""
        side = ">=" if self.direction == "higher" else "<="
        beat = ", ".join(b.name for b in self.baselines if b.kind == "beat")
        text = (
            f"{self.metric}: mean over {len(self.seeds)} seeds {side} {self.threshold:g}, 95% interval "
            f"beyond no-effect {self.null:g} and {beat}"
        )
        if self.allowed_gap is not None:
            opt = ", ".join(b.name for b in self.baselines if b.kind == "optimum")
            text += f"; within {self.allowed_gap:g} of {opt}"
        cside = ">=" if self.control.direction == "higher" else "<="
        return f"{text}; control: {self.control.description} {cside} {self.control.target:g}"

    # -- evaluation ---------------------------------------------------------------------------
    def collect(self, store) -> dict[int, dict[str, dict]] | None:
        """{seed: {run name: result}} from ``store`` (``.get(key)`` -> row); None if a run is missing."""
        out = {}
        for seed, runs in self.runs_by_seed().items():
            out[seed] = {}
            for name, cfg in runs.items():
                row = store.get(cfg.key())
                if row is None:
                    return None
                out[seed][name] = row["result"] if "result" in row else row
        return out

    def status(self, store) -> tuple[str, str]:
        """(status, figure) from ``store`` -- :meth:`evaluate` in two strings, for tables."""
        r = self.evaluate(store)
        return r.status, r.figure

    def stored(self, store) -> int:
        return sum(store.get(k) is not None for k in self.keys())

    def evaluate(self, store) -> ClaimResult:
        """The verdict from the rows in ``store`` (not run until every run of every seed is stored)."""
        results = None if store is None else self.collect(store)
        if results is None:
            n = 0 if store is None else self.stored(store)
            return ClaimResult(
                "not run",
                None,
                None,
                None,
                0,
                None,
                f"{n}/{len(self.keys())} runs stored",
                "",
                name=self.name,
                direction=self.direction,
                threshold=self.threshold,
            )
        seconds = 0.0
        for seed_res in results.values():
            for r in seed_res.values():
                # CPU seconds when recorded (single-thread cost even on a loaded machine), else wall time
                seconds += float(r.get("cpu_time") or r.get("wall_time") or 0.0)
        return self.judge(results, seconds=seconds or None)

    def judge(self, results: Mapping[int, SeedResults], seconds: float | None = None) -> ClaimResult:
        """The verdict from one result mapping per seed (``{seed: {run name: result}}``)."""
        if len(results) < MIN_SEEDS:
            raise ValueError(f"claim {self.name!r}: judging needs >= {MIN_SEEDS} seeds, got {len(results)}")
        values = [float(self.measure(r)) for r in results.values()]
        iv: Interval = mean_interval(values)
        ctl_iv = mean_interval([float(self.control.measure(r)) for r in results.values()])
        base = {b.name: mean_interval([b.of(r) for r in results.values()]).mean for b in self.baselines}
        d = self.direction
        control = f"{self.control.description} {ctl_iv.mean:.3f} (target {self.control.target:g})"
        fig = self._figure(iv, base)
        if self.details is not None:
            fig += f"; {self.details(results)}"
        common = dict(
            name=self.name,
            direction=d,
            threshold=self.threshold,
            per_seed=tuple(values),
            baselines=base,
            seconds=seconds,
        )

        def result(status):
            return ClaimResult(status, iv.mean, iv.low, iv.high, iv.n, figure=fig, control=control, **common)

        if not self.control.reached(ctl_iv.mean):
            return result("inconclusive")
        # the stricter of the threshold and, for optima with an allowed gap, optimum -/+ gap
        bar = self.threshold
        if self.allowed_gap is not None:
            for b in self.baselines:
                if b.kind == "optimum":
                    edge = (
                        base[b.name] - self.allowed_gap if d == "higher" else base[b.name] + self.allowed_gap
                    )
                    bar = max(bar, edge) if d == "higher" else min(bar, edge)
        refs = [self.null] + [base[b.name] for b in self.baselines if b.kind == "beat"]
        ref = max(refs) if d == "higher" else min(refs)
        near, far = (iv.low, iv.high) if d == "higher" else (iv.high, iv.low)
        if _better(d, near, ref) and not _better(d, bar, iv.mean):
            return result("passed")
        if _better(d, bar, far):
            return result("failed")
        return result("inconclusive")

    def _figure(self, iv: Interval, base: dict[str, float]) -> str:
        b = ", ".join(f"{k} {v:.3f}" for k, v in base.items())
        return f"{self.metric} {iv.mean:.3f} [{iv.low:.3f}, {iv.high:.3f}] over {iv.n} seeds; {b}"


# -- rendering -----------------------------------------------------------------------------------
STATUS_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "inconclusive": "#9a6700", "not run": "#6e7781"}


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return "inf" if math.isinf(v) else f"{v:.3f}"


def claims_html(results: Mapping[str, ClaimResult]) -> str:
    """An HTML table of claim results (name -> :class:`ClaimResult`): the report's claims section.

    Each row: coloured status, mean with its 95% interval, seeds, positive control, baselines,
    seconds and the figure. Text is escaped.
    """
    head = ["claim", "status", "mean [95% interval]", "seeds", "positive control", "baselines", "seconds"]
    out = ["<table class='claims'>", "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for name, r in results.items():
        colour = STATUS_COLOURS.get(r.status, "#000")
        interval = "" if r.mean is None else f"{_num(r.mean)} [{_num(r.low)}, {_num(r.high)}]"
        base = ", ".join(f"{k} {_num(v)}" for k, v in r.baselines.items())
        cells = [
            html.escape(name),
            f"<b style='color:{colour}'>{html.escape(r.status)}</b>",
            html.escape(interval) + ("" if not r.direction else f" ({html.escape(r.direction)} is better)"),
            str(r.seeds),
            html.escape(r.control),
            html.escape(base),
            "" if r.seconds is None else f"{r.seconds:.0f}",
        ]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        out.append(
            f"<tr><td></td><td colspan='{len(head) - 1}'><small>{html.escape(r.figure)}</small></td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def claims_markdown(results: Mapping[str, ClaimResult]) -> str:
    """The claims table of :func:`claims_html` in Markdown (for ``summary.md``)."""
    head = [
        "claim",
        "status",
        "mean [95% interval]",
        "seeds",
        "positive control",
        "baselines",
        "seconds",
        "figure",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, r in results.items():
        interval = (
            "" if r.mean is None else f"{_num(r.mean)} [{_num(r.low)}, {_num(r.high)}] ({r.direction} better)"
        )
        base = ", ".join(f"{k} {_num(v)}" for k, v in r.baselines.items())
        secs = "" if r.seconds is None else f"{r.seconds:.0f}"
        cells = [name, f"**{r.status}**", interval, str(r.seeds), r.control, base, secs, r.figure]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)
