"""The speed section of the one HTML report, from the rows of kind "speed" in the results store.

One table per setting (device, threads, d_model, batch): a row per mixer, a column per length, each
cell ``median ms / peak MiB``; ``~`` marks a cell flagged unreliable (spread too wide) and the
stale mark a row made by another code version. Below it the checks with their verdicts
(``unreliable`` when a check rests on a flagged cell). Registered as report section "speed.store".
"""

from __future__ import annotations

from seqlab.bench.speed.display import cell_text
from seqlab.experiments.report import STALE_MARK, Section, register_section, table_section

KIND = "speed"
SETTING = ("device", "threads", "d_model", "batch")


def _check_value(what: str, res: dict) -> str:
    if what == "linear_scaling":
        return "-" if res.get("ratio") is None else f"ratio {res['ratio']:.1f} (<= {res['bound']:g})"
    if what in ("scan", "fla"):
        need = res.get("required")
        return f"{res['speedup']:.2f}x (>= {need:g}x)" if need is not None else f"{res['speedup']:.2f}x"
    return "finite" if res.get("finite") else str(res.get("note") or "non-finite")


def speed_sections(rows: list[dict]) -> list[Section]:
    """Sections for the speed rows among ``rows`` (store rows of any kind); empty when there are none."""
    rows = [r for r in rows if r.get("kind") == KIND]
    out = []
    settings = sorted({tuple(str(r["config"].get(k)) for k in SETTING) for r in rows})
    for setting in settings:
        mine = [r for r in rows if tuple(str(r["config"].get(k)) for k in SETTING) == setting]
        cells = [r for r in mine if r["config"].get("what") == "cell"]
        label = ", ".join(f"{k} {v}" for k, v in zip(SETTING, setting))
        if cells:
            lengths = sorted({r["config"]["length"] for r in cells})
            body, classes = [], []
            for mixer in sorted({r["config"]["mixer"] for r in cells}):
                by_len = {r["config"]["length"]: r for r in cells if r["config"]["mixer"] == mixer}
                stale = any(r["stale"] for r in by_len.values())
                growth = next(iter(by_len.values()))["result"].get("state_growth") or "?"
                texts = [cell_text(by_len[n]["result"]) if n in by_len else "" for n in lengths]
                body.append([mixer + (f" {STALE_MARK}" if stale else ""), growth, *texts])
                classes.append("stale" if stale else "")
            text = (
                f"fwd+bwd time (ms, median of the timed runs after warm-up) / peak memory (MiB); {label}. "
                f"~ = spread (IQR/median) too wide to trust; {STALE_MARK} = made by another code version."
            )
            head = ["mixer", "state", *(f"L={n}" for n in lengths)]
            out.append(
                table_section(f"Mixer speed ({label})", head, body, row_classes=classes, text=text, order=61)
            )
        checks = [r for r in mine if r["config"].get("what") != "cell"]
        if checks:
            body = []
            for r in sorted(checks, key=lambda r: (r["config"]["what"], str(r["config"].get("mixer")))):
                c, res = r["config"], r["result"]
                where = c.get("mixer") or f"L={c.get('length')}"
                verdict = res.get("verdict") or ("PASS" if res.get("finite") else "n/a")
                body.append([c["what"], where, _check_value(c["what"], res), verdict])
            out.append(
                table_section(
                    f"Speed checks ({label})", ["check", "where", "value", "verdict"], body, order=62
                )
            )
    return out


@register_section("speed.store", order=61)
def speed_store_section(rows, context):
    return speed_sections(rows) or None
