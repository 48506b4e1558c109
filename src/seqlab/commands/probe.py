"""``seqlab probe NAME --model smollm2-135m|minilm-l6|<checkpoint>``: run one probe, print a table, write a
plot + JSON into the report folder (``<out>/probe/<name>.{png,json}``).

NAME is any registered probe (``seqlab list probes``) or ``layers`` (every per-layer metric at once;
``collisions`` is an alias of ``collision_test``). A pretrained LM reads a few sentences of gensim's
Lee corpus; a SequenceModel checkpoint (no tokenizer) reads seeded random token sequences. A probe that
cannot apply to the model says what it needs (:mod:`seqlab.probe.runners`).
"""

from __future__ import annotations

import json
from pathlib import Path

NAME = "probe"
HELP = "run a registered representation probe on a pretrained LM or a checkpoint (table + plot + JSON)"


def _names() -> list[str]:
    from seqlab.probe.runners import ALIASES, RUNNERS

    return sorted({*RUNNERS, *ALIASES})


def add_arguments(p):
    p.add_argument("probe", choices=_names(), metavar="PROBE", help="a registered probe or 'layers'")
    p.add_argument(
        "--model", default="smollm2-135m", help="smollm2-135m, minilm-l6, or a checkpoint (step-*.json)"
    )
    p.add_argument("--model-config", default=None, help="SequenceModel arguments as JSON (for a checkpoint)")
    p.add_argument("--with", dest="other", default=None, help="second model/run (concatenated_runs)")
    p.add_argument("--prompts", type=int, default=6, help="number of prompts (texts or random sequences)")
    p.add_argument(
        "--length", type=int, default=12, help="tokens per prompt (random sequences; sipit prompts)"
    )
    p.add_argument("--layer", type=int, default=None, help="layer (sipit: default 2; 0 = embeddings)")
    p.add_argument("--seed", type=int, default=0, help="seed of the text sample / random sequences")
    p.add_argument("--out", default="report", help="report folder (writes probe/<name>.png and .json)")


def _table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for r in (header, *rows):
        print("  ".join(str(x).rjust(w) for x, w in zip(r, widths)))


def _plot(path: Path, title: str, run) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if run.heatmap is not None:
        im = ax.imshow(run.heatmap, origin="lower", cmap="viridis", vmin=0, vmax=1)
        fig.colorbar(im, ax=ax)
        ax.set_ylabel("layer" if run.xlabel == "layer" else "target position i")
    elif run.bars:
        ax.bar(range(len(run.bars)), list(run.bars.values()))
        ax.set_xticks(range(len(run.bars)), list(run.bars), rotation=30, ha="right", fontsize=7)
    else:
        for name, ys in run.series.items():
            ax.plot(range(len(ys)), ys, marker="o", ms=3, label=name)
        ax.legend(fontsize=7)
    if not run.bars:
        ax.set_xlabel(run.xlabel)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(args) -> int:
    from seqlab.probe.extract import load_model
    from seqlab.probe.runners import ALIASES, RUNNERS, Options

    if args.prompts < 2 or args.length < 3:
        raise ValueError(f"--prompts must be >= 2 and --length >= 3, got {args.prompts} / {args.length}")
    name = ALIASES.get(args.probe, args.probe)
    cfg = json.loads(args.model_config) if args.model_config else None
    lm = load_model(args.model, cfg)
    opt = Options(args.model, args.prompts, args.length, args.layer, args.seed, args.other, cfg)
    res = RUNNERS[name](lm, opt)
    out_dir = Path(args.out) / "probe"
    out_dir.mkdir(parents=True, exist_ok=True)
    _table(res.header, res.rows)
    if res.note:
        print(res.note)
    result = {"probe": args.probe, "model": args.model, "prompts": args.prompts, **res.data}
    png, js = out_dir / f"{args.probe}.png", out_dir / f"{args.probe}.json"
    _plot(png, f"{args.probe} - {Path(args.model).name}", res)
    js.write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {png} and {js}")
    return 0
