"""The benchmark report: PNG figures, a self-contained HTML page and a Markdown summary.

Figures (matplotlib, Agg): accuracy vs model width per task and difficulty (zoology-style),
accuracy vs recurrent-state size, length-generalization curves (metric vs test length per mixer
and positional encoding), and training curves. Tables: every run's result, the expected findings
(:mod:`seqlab.bench.findings`), the paper claims, and the mixer speed table read from the JSON the
speed benchmark writes. The HTML embeds the figures as base64 PNG and loads nothing from a network.
"""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SPEED_DEFAULT = Path("results") / "speed.json"
SPEED_HINT = (
    "no speed table yet: run `seqlab speed` (or `python benchmarks/mixers.py`) to write results/speed.json"
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
    body = []
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
        body.append(
            [
                c["task"],
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
    return head, body


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


def fig_width(rows, out: Path) -> Path | None:
    groups = defaultdict(lambda: defaultdict(list))
    for r in rows:
        c = r["config"]
        groups[(c["task"], difficulty(c))][variant(c)].append((c["d_model"], r["result"]["score"]))
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
        ax.set_ylabel(rows[0]["result"]["metric"] if len(rows) == 1 else "in-distribution metric")
        ax.legend(fontsize=7)
    return _save(fig, out / "accuracy_vs_width.png")


def fig_state(rows, out: Path) -> Path | None:
    groups = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["result"].get("state_floats"):
            c = r["config"]
            groups[(c["task"], difficulty(c))][variant(c)].append(
                (r["result"]["state_floats"], r["result"]["score"])
            )
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
        ax.set_ylabel("in-distribution metric")
        ax.legend(fontsize=7)
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
        ax.set_ylabel(rs[0]["result"]["metric"])
        ax.legend(fontsize=7)
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
        ax.set_ylabel(f"eval {metric}")
        if len(rs) <= 8:
            ax.legend(fontsize=6)
    return _save(fig, out / "training_curves.png")


def speed_table(path: Path | None) -> tuple[list[str], list[list[str]]] | str:
    """The mixer speed table from the speed benchmark's JSON, or a hint saying how to make it."""
    path = Path(path or SPEED_DEFAULT)
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


def _md_table(head, body) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in body]
    return "\n".join(lines)


def _html_table(head, body) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


CSS = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}th{background:#f3f3f3}"
    "img{max-width:100%;border:1px solid #eee;margin:.5em 0}.pass{color:#070}.fail{color:#a00}"
)


def write_report(
    rows: list[dict[str, Any]],
    out_dir,
    *,
    title: str = "seqlab benchmark report",
    findings: list[tuple[str, str, str]] | None = None,
    claims: tuple[list[str], list[list[str]]] | None = None,
    speed_json=None,
    notes: str = "",
) -> Path:
    """Write ``report.html``, ``summary.md`` and the PNG figures into ``out_dir``; returns the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = [
        ("Accuracy vs model width (per task and difficulty)", fig_width(rows, out)),
        ("Accuracy vs recurrent-state size", fig_state(rows, out)),
        ("Length generalization", fig_length(rows, out)),
        ("Training curves", fig_training(rows, out)),
    ]
    figures = [(t, p) for t, p in figures if p is not None]
    res_head, res_body = results_table(rows)
    speed = speed_table(speed_json)
    sections_md = [
        f"# {title}",
        notes,
        f"{len(rows)} runs. `*` = stopped early at the target.",
        "## Results",
        _md_table(res_head, res_body) if rows else "(no runs in the store yet)",
    ]
    sections_html = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(notes)}</p>" if notes else "",
        f"<p>{len(rows)} runs. <code>*</code> = stopped early at the target.</p>",
    ]
    if findings:
        fh = ["expected finding", "status", "evidence"]
        sections_md += ["## Expected findings", _md_table(fh, findings)]
        sections_html += ["<h2>Expected findings</h2>", _html_table(fh, findings)]
    if claims:
        sections_md += ["## Paper claims", _md_table(*claims)]
        sections_html += ["<h2>Paper claims</h2>", _html_table(*claims)]
    for t, p in figures:
        sections_md.append(f"## {t}\n\n![{t}]({p.name})")
        data = base64.b64encode(p.read_bytes()).decode()
        sections_html += [
            f"<h2>{html.escape(t)}</h2>",
            f'<img alt="{html.escape(t)}" src="data:image/png;base64,{data}">',
        ]
    sections_html += ["<h2>Results</h2>", _html_table(res_head, res_body)]
    if isinstance(speed, str):
        sections_md += ["## Mixer speed", speed]
        sections_html += ["<h2>Mixer speed</h2>", f"<p>{html.escape(speed)}</p>"]
    else:
        sections_md += ["## Mixer speed", _md_table(*speed)]
        sections_html += ["<h2>Mixer speed</h2>", _html_table(*speed)]
    (out / "summary.md").write_text("\n\n".join(s for s in sections_md if s) + "\n")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(sections_html)}</body></html>"
    )
    path = out / "report.html"
    path.write_text(page)
    return path
