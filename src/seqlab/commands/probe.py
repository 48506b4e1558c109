"""``seqlab probe NAME --model smollm2-135m|<checkpoint>``: run one probe, print a table, write a plot + JSON.

Probes: ``layers`` (per-layer flow and intermediate-layer metrics), ``cka`` (CKA between every pair of
layers), ``collisions`` (minimum pairwise last-token distance per layer), ``sipit`` (invert prompts from
one layer). A pretrained LM reads sentences of gensim's Lee corpus; a SequenceModel checkpoint (no
tokenizer) reads seeded random token sequences. Output: ``<out>/probe/<name>.{png,json}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

NAME = "probe"
HELP = "run a representation probe (layers, cka, collisions, sipit) on a pretrained LM or a checkpoint"
PROBES = ("layers", "cka", "collisions", "sipit")


def add_arguments(p):
    p.add_argument("probe", choices=PROBES, help="which probe to run")
    p.add_argument(
        "--model", default="smollm2-135m", help="smollm2-135m, minilm-l6, or a checkpoint (step-*.json)"
    )
    p.add_argument("--model-config", default=None, help="SequenceModel arguments as JSON (for a checkpoint)")
    p.add_argument("--prompts", type=int, default=16, help="number of prompts (texts or random sequences)")
    p.add_argument(
        "--length", type=int, default=12, help="tokens per prompt (random sequences; sipit prompts)"
    )
    p.add_argument("--layer", type=int, default=None, help="layer for sipit (default: 2; 0 = embeddings)")
    p.add_argument("--seed", type=int, default=0, help="seed of the text sample / random sequences")
    p.add_argument("--out", default="report", help="report folder (writes probe/<name>.png and .json)")


def _inputs(lm, args):
    """(ids, mask) of the prompts: Lee sentences for a tokenizer model, random ids otherwise."""
    if getattr(lm, "padding_side", "none") in ("left", "right"):
        from seqlab.probe.experiments import _subsample, lee_sentences

        texts = _subsample(lee_sentences(), args.prompts, args.seed)
        if args.probe == "sipit":
            ids = torch.stack(
                [r for r in (lm.encode([t]).ids[0, : args.length] for t in texts) if len(r) == args.length]
            )
            return ids, None
        return lm.encode(texts)
    g = torch.Generator().manual_seed(args.seed)
    return torch.randint(0, lm.vocab_size, (args.prompts, args.length), generator=g), None


def _table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for r in (header, *rows):
        print("  ".join(str(x).rjust(w) for x, w in zip(r, widths)))


def _fmt(v):
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _plot(path: Path, title: str, series: dict, xlabel="layer", heatmap=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if heatmap is not None:
        im = ax.imshow(heatmap, origin="lower", cmap="viridis", vmin=0, vmax=1)
        fig.colorbar(im, ax=ax)
        ax.set_ylabel("layer")
    else:
        for name, ys in series.items():
            ax.plot(range(len(ys)), ys, marker="o", ms=3, label=name)
        ax.legend(fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(args) -> int:
    from seqlab.probe import cka, layer_states, sipit_search
    from seqlab.probe.extract import load_model
    from seqlab.probe.invert import pairwise_collisions
    from seqlab.probe.layers import curvature, layer_flow, layer_metrics, prompt_entropy, tokens

    if args.prompts < 2 or args.length < 3:
        raise ValueError(f"--prompts must be >= 2 and --length >= 3, got {args.prompts} / {args.length}")
    cfg = json.loads(args.model_config) if args.model_config else None
    lm = load_model(args.model, cfg)
    out_dir = Path(args.out) / "probe"
    out_dir.mkdir(parents=True, exist_ok=True)
    ids, mask = _inputs(lm, args)
    result: dict = {"probe": args.probe, "model": args.model, "prompts": int(ids.shape[0])}
    title = f"{args.probe} - {args.model}"
    if args.probe == "layers":
        if getattr(lm, "padding_side", "none") in ("left", "right"):
            from seqlab.probe.experiments import _subsample, lee_sentences

            m = layer_metrics(lm, _subsample(lee_sentences(), args.prompts, args.seed), seed=args.seed)
        else:
            states = layer_states(lm, ids, mask)
            m = layer_flow(states, mask)
            m["prompt_entropy"] = [prompt_entropy(h, mask) for h in states]
            m["curvature"] = [curvature(h, mask) for h in states]
        keys = [k for k in m if len(m[k]) == len(m["token_similarity"])]
        pair = [k for k in m if k not in keys]
        rows = [
            [i, *[_fmt(m[k][i]) for k in keys], *[_fmt(m[k][i]) if i < len(m[k]) else "-" for k in pair]]
            for i in range(len(m["token_similarity"]))
        ]
        _table(["layer", *keys, *[f"{k} (l,l+1)" for k in pair]], rows)
        result["metrics"] = m
        _plot(out_dir / "layers.png", title, m)
    elif args.probe == "cka":
        states = layer_states(lm, ids, mask)
        toks = [tokens(h, mask) for h in states]
        mat = [[cka(a, b) for b in toks] for a in toks]
        _table(
            ["layer", "cka(l, l+1)", "cka(l, last)"],
            [
                [i, _fmt(mat[i][i + 1]) if i + 1 < len(mat) else "-", _fmt(mat[i][-1])]
                for i in range(len(mat))
            ],
        )
        result["cka"] = mat
        _plot(out_dir / "cka.png", title, {}, heatmap=mat)
    elif args.probe == "collisions":
        rows, series = [], []
        states = layer_states(lm, ids, mask)  # one pass; the last real token of each row
        if mask is not None and getattr(lm, "padding_side", "left") == "right":
            last = mask.long().sum(1) - 1
            lasts = [h[torch.arange(len(h)), last] for h in states]
        else:
            lasts = [h[:, -1] for h in states]
        for layer, h in enumerate(lasts):
            r = pairwise_collisions(h)
            rows.append([layer, r["pairs"], f"{r['min_distance']:.4g}", r["collisions"]])
            series.append(r["min_distance"])
        _table(["layer", "pairs", "min distance", "collisions (<1e-6)"], rows)
        result["min_distance"] = series
        result["collisions"] = sum(r[3] for r in rows)
        _plot(out_dir / "collisions.png", title, {"min pairwise distance": series})
    else:
        from seqlab.probe import fit_linear_inverse

        layer = 2 if args.layer is None else args.layer
        states = layer_states(lm, ids)
        inv = fit_linear_inverse(lm, layer, ids)
        res = sipit_search(lm, states[layer], layer, order="linear", inverse=inv)
        rows = [
            [
                i,
                int(res.exact[i].sum()),
                ids.shape[1],
                int(res.checked[i].sum()),
                bool(torch.equal(res.ids[i], ids[i])),
            ]
            for i in range(ids.shape[0])
        ]
        _table(["prompt", "exact tokens", "tokens", "candidates checked", "recovered"], rows)
        rate = float(res.exact.float().mean())
        print(
            f"layer {layer}: {100 * rate:.1f}% of tokens recovered exactly, "
            f"{res.seconds / res.ids.numel():.3f} s per token"
        )
        result.update(
            layer=layer,
            recovered=rate,
            seconds_per_token=res.seconds / res.ids.numel(),
            candidates=res.checked.float().mean(0).tolist(),
        )
        _plot(
            out_dir / "sipit.png", title, {"mean candidates checked": result["candidates"]}, xlabel="position"
        )
    (out_dir / f"{args.probe}.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {out_dir / (args.probe + '.png')} and {out_dir / (args.probe + '.json')}")
    return 0
