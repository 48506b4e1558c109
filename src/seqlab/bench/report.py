"""The bench sections of the one report (:mod:`seqlab.experiments.report` writes the page).

Figures (matplotlib, Agg) of the rows of kind "bench": accuracy vs model width per task and
difficulty (zoology-style), accuracy vs recurrent-state size, length-generalization curves (metric
vs test length per mixer and positional encoding), and training curves. Tables: every run's
result (stale rows marked), the expected findings (:mod:`seqlab.bench.findings`), the paper claims
(``context["claims"]``: a (head, body) table or ready sections), and the mixer speed table read
from the JSON the speed benchmark writes. Each is a registered section source.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from seqlab.experiments.report import (  # noqa: E402
    STALE_MARK,
    Section,
    build_report,
    register_section,
    table_section,
    text_section,
)

SPEED_DEFAULT = Path("results") / "speed.json"
SPEED_HINT = (
    "no speed table yet: run `seqlab speed` (or `python benchmarks/speed.py`) to write results/speed.json"
)


def difficulty(cfg: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(cfg["task_params"].items())) or "default"


def variant(cfg: dict) -> str:
    """Mixer plus what changes its length behaviour: positional encoding and state initialisation."""
    label = cfg["mixer"]
    if cfg.get("model", "sequence_model") != "sequence_model":
        label = cfg["model"] + ("" if label == "none" else f"[{label}]")
    if cfg.get("randomized_positions"):
        label += f" +randPE({cfg['randomized_positions']})"
    if cfg.get("pos_enc", "none") != "none":
        label += f" pe={cfg['pos_enc']}"
    if cfg.get("state_init", "zero") != "zero":
        label += f" init={cfg['state_init']}"
    return label


def results_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    head = [
        "task",
        "difficulty",
        "mixer",
        "width",
        "metric",
        "in-dist",
        "longer (mean)",
        "steps",
        "params",
        "state",
        "s",
    ]
    body, classes = [], []
    for r in sorted(
        rows,
        key=lambda r: (
            r["config"]["task"],
            difficulty(r["config"]),
            variant(r["config"]),
            r["config"]["d_model"],
        ),
    ):
        c, res = r["config"], r["result"]
        ood = res.get("ood_score")
        classes.append("stale" if r.get("stale") else "")
        body.append(
            [
                c["task"] + (f" {STALE_MARK}" if r.get("stale") else ""),
                difficulty(c),
                variant(c),
                str(c["d_model"]),
                res["metric"],
                f"{res['score']:.3f}",
                "-" if ood is None else f"{ood:.3f}",
                f"{res['steps_done']}{'*' if res.get('stopped_early') else ''}",
                f"{res['params']:,}",
                "-" if res.get("state_floats") is None else f"{res['state_floats']:,}",
                f"{res['wall_time']:.0f}",
            ]
        )
    return head, body, classes


def _grid(n: int):
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat[:n])


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _metric_axis(ax, metric: str, label: str | None = None) -> None:
    """One metric per axis: label it and fix accuracy axes to [0, 1] (so panels compare by eye)."""
    ax.set_ylabel(label or metric)
    if metric == "accuracy":
        ax.set_ylim(-0.02, 1.02)


def _legend(ax, n_lines: int) -> None:
    """A legend naming every line (smaller and in columns when there are many)."""
    ax.legend(fontsize=7 if n_lines <= 6 else 5, ncol=1 if n_lines <= 8 else 2)


def fig_width(rows, out: Path) -> Path | None:
    groups = defaultdict(lambda: defaultdict(list))
    metrics = {}
    for r in rows:
        c = r["config"]
        groups[(c["task"], difficulty(c))][variant(c)].append((c["d_model"], r["result"]["score"]))
        metrics[(c["task"], difficulty(c))] = r["result"]["metric"]
    if not groups:
        return None
    fig, axes = _grid(len(groups))
    for ax, ((task, diff), lines) in zip(axes, sorted(groups.items())):
        for label, pts in sorted(lines.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_title(f"{task}\n{diff}", fontsize=9)
        ax.set_xlabel("model width (d_model)")
        _metric_axis(ax, metrics[(task, diff)], f"in-distribution {metrics[(task, diff)]}")
        _legend(ax, len(lines))
    return _save(fig, out / "accuracy_vs_width.png")


def fig_state(rows, out: Path) -> Path | None:
    groups = defaultdict(lambda: defaultdict(list))
    metrics = {}
    for r in rows:
        if r["result"].get("state_floats"):
            c = r["config"]
            groups[(c["task"], difficulty(c))][variant(c)].append(
                (r["result"]["state_floats"], r["result"]["score"])
            )
            metrics[(c["task"], difficulty(c))] = r["result"]["metric"]
    if not groups:
        return None
    fig, axes = _grid(len(groups))
    for ax, ((task, diff), lines) in zip(axes, sorted(groups.items())):
        for label, pts in sorted(lines.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="s", label=label)
        ax.set_xscale("log")
        ax.set_title(f"{task}\n{diff}", fontsize=9)
        ax.set_xlabel("state size (floats per sequence)")
        _metric_axis(ax, metrics[(task, diff)], f"in-distribution {metrics[(task, diff)]}")
        _legend(ax, len(lines))
    return _save(fig, out / "accuracy_vs_state_size.png")


def fig_length(rows, out: Path) -> Path | None:
    groups = defaultdict(list)
    for r in rows:
        if r["result"].get("ood_lengths"):
            groups[(r["config"]["task"], difficulty(r["config"]))].append(r)
    if not groups:
        return None
    fig, axes = _grid(len(groups))
    for ax, ((task, diff), rs) in zip(axes, sorted(groups.items())):
        for r in sorted(rs, key=lambda r: variant(r["config"])):
            res = r["result"]
            xs, ys = list(res["ood_lengths"]), list(res["ood"])
            if res.get("train_lengths"):
                xs, ys = [res["train_lengths"][1], *xs], [res["score"], *ys]
            ax.plot(xs, ys, marker=".", label=f"{variant(r['config'])} d={r['config']['d_model']}")
        if rs[0]["result"].get("train_lengths"):
            ax.axvline(rs[0]["result"]["train_lengths"][1], color="grey", ls="--", lw=1)
        ax.set_title(f"{task}: length generalization\n{diff}", fontsize=9)
        ax.set_xlabel("test length (dashed: longest training length)")
        _metric_axis(ax, rs[0]["result"]["metric"])
        _legend(ax, len(rs))
    return _save(fig, out / "length_generalization.png")


def fig_training(rows, out: Path) -> Path | None:
    groups = defaultdict(list)
    for r in rows:
        if any(h.get("eval") for h in r["result"].get("history", [])):
            groups[r["config"]["task"]].append(r)
    if not groups:
        return None
    fig, axes = _grid(len(groups))
    for ax, (task, rs) in zip(axes, sorted(groups.items())):
        metric = rs[0]["result"]["metric"]
        for r in rs:
            hist = [h for h in r["result"]["history"] if h.get("eval")]
            c = r["config"]
            ax.plot(
                [h["step"] for h in hist],
                [h.get(metric, float("nan")) for h in hist],
                lw=1,
                label=f"{variant(c)} d={c['d_model']} {difficulty(c)}",
            )
        ax.set_title(f"{task}: training curves", fontsize=9)
        ax.set_xlabel("step")
        _metric_axis(ax, metric, f"eval {metric}")
        _legend(ax, len(rs))
    return _save(fig, out / "training_curves.png")


def committed_speed_json() -> Path:
    """The speed baseline committed with seqlab's source (``benchmarks/results/cpu-2core/speed.json``)."""
    return Path(__file__).resolve().parents[3] / "benchmarks" / "results" / "cpu-2core" / "speed.json"


def speed_source(path) -> tuple[Path | None, str]:
    """(JSON to show, caption): the given or local results/speed.json, else the committed baseline."""
    if path is not None:
        return Path(path), ""
    if SPEED_DEFAULT.is_file():
        return SPEED_DEFAULT, ""
    base = committed_speed_json()
    if base.is_file():
        try:
            env = json.loads(base.read_text()).get("environment", {})
        except (ValueError, AttributeError):
            env = {}
        cores, arch, cpu = env.get("cpu_count", "?"), env.get("machine", "?"), env.get("device_name", "")
        machine = f"{cores}-core {arch} {cpu}".strip()
        return base, (
            f"No local speed run: showing the committed baseline {base.name} (measured on a {machine}, "
            f"torch {env.get('torch', '?')}, load average {env.get('load_avg_start')} at start). "
            "Run `seqlab speed` for this machine."
        )
    return None, ""


def speed_table(path: Path | None) -> tuple[list[str], list[list[str]]] | str:
    """The mixer speed table from the speed benchmark's JSON, or a hint saying how to make it."""
    if path is None:
        path = SPEED_DEFAULT
    path = Path(path)
    if not path.is_file():
        return SPEED_HINT
    try:
        data = json.loads(path.read_text())
    except ValueError as err:
        return f"{path} is not valid JSON ({err}); rerun `seqlab speed`"
    if isinstance(data, dict):  # seqlab speed: {"config", "environment", "results": [...], "checks"}
        data = data.get("results") or next((v for v in data.values() if isinstance(v, list)), [data])
    recs = [d for d in data if isinstance(d, dict)]
    if not recs:
        return f"{path} holds no speed records"
    head = list(dict.fromkeys(k for d in recs for k in d if not isinstance(d[k], (dict, list))))
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    return head, [[fmt(d.get(k, "")) for k in head] for d in recs]


def bench_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("kind", "bench") == "bench"]


@register_section("bench.findings", order=10)
def findings_section(rows, context):
    findings = context.get("findings")
    if not findings:
        return None
    return table_section("Expected findings", ["expected finding", "status", "evidence"], findings, order=10)


@register_section("claims", order=20)
def claims_section(rows, context):
    """``context["claims"]``: a (head, body) table, a :class:`Section`, or a list of sections."""
    claims = context.get("claims")
    if not claims:
        return None
    if isinstance(claims, Section) or (
        isinstance(claims, list) and claims and isinstance(claims[0], Section)
    ):
        return claims
    return table_section("Paper claims", *claims, order=20)


@register_section("bench.figures", order=30)
def figures_section(rows, context):
    rows = bench_rows(rows)
    out = Path(context.get("out_dir", "."))
    figures = [
        ("Accuracy vs model width (per task and difficulty)", fig_width(rows, out)),
        ("Accuracy vs recurrent-state size", fig_state(rows, out)),
        ("Length generalization", fig_length(rows, out)),
        ("Training curves", fig_training(rows, out)),
    ]
    return [Section(t, figures=[(t, p)], order=30) for t, p in figures if p is not None]


@register_section("bench.results", order=40)
def results_section(rows, context):
    rows = bench_rows(rows)
    if not rows:
        return text_section("Results", "(no runs in the store yet)", order=40)
    head, body, classes = results_table(rows)
    stale = sum(1 for c in classes if c)
    text = f"{len(rows)} runs. * = stopped early at the target."
    if stale:
        text += f" {STALE_MARK} = stale: made by another code version ({stale} rows)."
    return table_section("Results", head, body, row_classes=classes, text=text, order=40)


@register_section("speed", order=60)
def speed_section(rows, context):
    """The speed JSON's table (``context["speed_json"]``, default results/speed.json) or how to make it."""
    if any(r.get("kind") == "speed" for r in rows):
        return None  # the store's speed rows are rendered by section "speed.store" (bench/speed/section.py)
    path, caption = speed_source(context.get("speed_json"))
    speed = speed_table(path) if path is not None else SPEED_HINT
    if isinstance(speed, str):
        return text_section("Mixer speed", speed, order=60)
    return table_section("Mixer speed", *speed, text=caption, order=60)


def write_report(
    rows: list[dict[str, Any]],
    out_dir,
    *,
    title: str = "seqlab benchmark report",
    findings: list[tuple[str, str, str]] | None = None,
    claims=None,
    speed_json=None,
    notes: str = "",
    current_version: str | None = None,
) -> Path:
    """Write ``report.html``, ``summary.md`` and the PNG figures into ``out_dir``; returns the HTML path."""
    context = {"findings": findings, "claims": claims, "speed_json": speed_json}
    return build_report(
        rows, out_dir, title=title, context=context, notes=notes, current_version=current_version
    )
