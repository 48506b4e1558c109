"""Print a speed result (the dict :func:`seqlab.bench.speed.run.run_speed` returns) as rich tables.

Each cell shows ``median ms / peak MiB``; a cell flagged unreliable (spread too wide) is marked
``~`` and its spread printed beside it, and a check resting on it prints ``unreliable``.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def cell_text(r: dict) -> str:
    if r["time_ms"] is None:
        return escape(r["status"])
    mem = "?" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}"
    text = f"{r['time_ms']:.1f} / {mem}"
    if r.get("unreliable"):
        spread = "?" if r.get("spread") is None else f"{r['spread']:.2f}"
        text = f"~{text} (spread {spread})"
    return text


def print_result(result: dict, console: Console) -> None:
    cfg = result["config"]
    table = Table(
        title=f"fwd+bwd time (ms, median) / peak memory (MiB, {result['memory_method']}); "
        f"d_model={cfg['d_model']}, batch={cfg['batch']}, "
        + (result["environment"]["device_name"] if cfg["device"] != "cpu" else f"{cfg['threads']} threads")
        + f"; ~ = spread (IQR/median) > {cfg['max_spread']:g}, unreliable"
    )
    table.add_column("mixer")
    table.add_column("state")
    for length in cfg["lengths"]:
        table.add_column(f"L={length}", justify="right")
    for name in dict.fromkeys(r["mixer"] for r in result["results"]):
        mine = [r for r in result["results"] if r["mixer"] == name]
        table.add_row(name, str(mine[0]["state_growth"] or "?"), *(cell_text(r) for r in mine))
    console.print(table)
    checks = result["checks"]
    lo, hi = cfg["scaling"]
    console.print(
        f"(a) linear scaling (constant or window state), time(L={hi}) / time(L={lo}) <= {1.5 * hi / lo:g}:"
    )
    for name, c in checks["linear_scaling"].items():
        ratio = "-" if c["ratio"] is None else f"{c['ratio']:.1f}"
        console.print(f"    {name:18s} {ratio:>7s}  {c['verdict']}")
    s = checks["scan"]
    console.print(
        f"(b) scan_chunked vs sequential loop at L={s['length']}: {s['sequential_ms']:.1f} ms vs "
        f"{s['chunked_ms']:.1f} ms = {s['speedup']:.1f}x (need >= {s['required']:g}x) "
        f"{s['verdict']}, max |diff| {s['max_abs_diff']:.1e}"
    )
    f = checks["fla"]
    if "skipped" in f:
        console.print(f"(c) skipped: {escape(f['skipped'])}")
    for length, c in f.get("lengths", {}).items():
        console.print(
            f"(c) fla naive_chunk_simple_gla vs gla_chunked at L={length}: {c['fla_ms']:.1f} ms vs "
            f"{c['seqlab_ms']:.1f} ms = {c['speedup']:.2f}x (need >= {f['required']:g}x) "
            f"{c['verdict']}; max |diff| {c['max_abs_diff']:.1e} "
            f"({'same' if c['same_output'] else 'DIFFERENT'} output)"
        )
    console.print(f"(d) finite forward at L={cfg['finite_length']}, d_model={cfg['finite_d_model']}:")
    for name, c in checks["finite"].items():
        verdict = c.get("note") or ("PASS" if c["finite"] else "FAIL: non-finite output")
        console.print(f"    {name:18s} {escape(verdict)}")
    unreliable = [f"{r['mixer']}@{r['length']}" for r in result["results"] if r.get("unreliable")]
    if unreliable:
        env = result["environment"]
        console.print(
            f"{len(unreliable)} cell(s) unreliable (spread > {cfg['max_spread']:g}): "
            f"{', '.join(unreliable)}; load average {env['load_avg_start']} -> {env['load_avg_end']}"
        )


def markdown(result: dict) -> str:
    """The table and check verdicts as Markdown (what ``benchmarks/speed.py`` writes beside the JSON)."""
    cfg, env = result["config"], result["environment"]
    lines = [
        f"# Speed: fwd+bwd ms (median) / peak MiB, d_model={cfg['d_model']}, batch={cfg['batch']}, "
        f"device {cfg['device']}, {cfg['threads']} threads",
        "",
        f"torch {env['torch']}, {env['cpu_count']} CPUs, load average {env['load_avg_start']} -> "
        f"{env['load_avg_end']}; `~` marks a cell whose spread (IQR/median) exceeds {cfg['max_spread']:g} "
        f"(unreliable).",
        "",
        "| mixer | state | " + " | ".join(f"L={n}" for n in cfg["lengths"]) + " |",
        "|---|---|" + "---:|" * len(cfg["lengths"]),
    ]
    for name in dict.fromkeys(r["mixer"] for r in result["results"]):
        mine = [r for r in result["results"] if r["mixer"] == name]
        cells = [cell_text(r).replace("|", "/") for r in mine]
        lines.append(f"| {name} | {mine[0]['state_growth'] or '?'} | " + " | ".join(cells) + " |")
    checks = result["checks"]
    lines += ["", "| check | value | verdict |", "|---|---:|---|"]
    for name, c in checks["linear_scaling"].items():
        ratio = "-" if c["ratio"] is None else f"{c['ratio']:.1f} (<= {c['bound']:g})"
        lines.append(f"| (a) scaling {name} | {ratio} | {c['verdict']} |")
    s = checks["scan"]
    lines.append(
        f"| (b) chunked scan speed-up | {s['speedup']:.1f}x (>= {s['required']:g}x) | {s['verdict']} |"
    )
    for length, c in checks["fla"].get("lengths", {}).items():
        lines.append(
            f"| (c) gla_chunked vs fla at L={length} | {c['speedup']:.2f}x (>= "
            f"{checks['fla']['required']:g}x) | {c['verdict']} |"
        )
    for name, c in checks["finite"].items():
        verdict = c.get("note") or ("PASS" if c["finite"] else "FAIL")
        lines.append(f"| (d) finite {name} at L={cfg['finite_length']} | | {verdict} |")
    return "\n".join(lines) + "\n"
