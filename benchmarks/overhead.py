"""Framework overhead: one AdamW training step of seqlab's SequenceModel vs a plain PyTorch model.

The plain model is written here, outside seqlab, with the same shape: token embedding + learned
position embedding, ``n_layers`` pre-LayerNorm blocks of causal multi-head attention through
``torch.nn.functional.scaled_dot_product_attention`` and a 4x GELU MLP, a final LayerNorm and a
linear head. seqlab runs ``SequenceModel(mixer="attention", d_model, n_layers)`` in two configs:

- ``default``: seqlab's defaults (RoPE inside attention, no model-level positions);
- ``matched``: the plain model's positional scheme (``pos_enc="learned"`` with a table of
  ``length`` rows, attention ``pos="none"``), so the two compute the same function class.

A step is ``zero_grad -> forward -> cross-entropy -> backward -> AdamW.step`` on a fixed random
batch. The machine may be shared, so the models are interleaved run by run (A B A B ...): each run
times ``--steps`` consecutive steps of one model after ``--warmup`` untimed steps of each, and the
figure is the median ms per step over ``--runs`` runs with the interquartile range as spread. The
ratio is seqlab / plain of the medians; ``paired_ratio`` and ``ratio_iqr`` are the median and
interquartile range of the per-run ratios (each seqlab run against the plain run beside it), the
figure least moved by load from other processes.

    PYTHONPATH=src python3 benchmarks/overhead.py [--heads 1,4] [--runs 30] [--threads 2]
        [--out benchmarks/results/cpu-2core/overhead.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import seqlab
from seqlab.models import SequenceModel

DEFAULT_OUT = Path(__file__).parent / "results" / "cpu-2core" / "overhead.json"


class PlainBlock(nn.Module):
    """Pre-LayerNorm block: causal SDPA attention, then a 4x GELU MLP, both residual."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv, self.proj = nn.Linear(d_model, 3 * d_model), nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.ln2(x))


class PlainModel(nn.Module):
    """Token + learned position embedding -> blocks -> LayerNorm -> linear head."""

    def __init__(self, vocab: int, d_model: int, n_layers: int, n_heads: int, length: int):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d_model), nn.Embedding(length, d_model)
        self.blocks = nn.ModuleList(PlainBlock(d_model, n_heads) for _ in range(n_layers))
        self.ln, self.head = nn.LayerNorm(d_model), nn.Linear(d_model, vocab)

    def forward(self, tokens):
        x = self.tok(tokens) + self.pos(torch.arange(tokens.shape[1], device=tokens.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def build(kind: str, vocab: int, d_model: int, n_layers: int, n_heads: int, length: int) -> nn.Module:
    """``plain``, or seqlab's ``default`` / ``matched`` SequenceModel of the same shape."""
    if kind == "plain":
        return PlainModel(vocab, d_model, n_layers, n_heads, length)
    if kind == "default":
        return SequenceModel("attention", d_model, n_layers, vocab_size=vocab, mixer_cfg={"n_heads": n_heads})
    if kind == "matched":
        return SequenceModel(
            "attention", d_model, n_layers, vocab_size=vocab, pos_enc="learned", max_len=length,
            mixer_cfg={"n_heads": n_heads, "pos": "none"},
        )
    raise ValueError(f"model kind must be plain, default or matched, got {kind!r}")


def trainer(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor):
    """A closure running one AdamW step on the fixed batch."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(tokens)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        loss.backward()
        opt.step()

    return step


def time_steps(step, n: int) -> float:
    """Mean ms per step over ``n`` consecutive steps."""
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) * 1e3 / n


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    if len(xs) < 2:
        return xs[0], xs[0], xs[0]
    q1, q2, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, q2, q3


def measure(heads: int, args) -> list[dict]:
    """Interleaved timing of plain vs both seqlab configs at ``heads`` heads; one row per seqlab config."""
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, args.vocab, (args.batch, args.length), generator=g)
    targets = torch.randint(0, args.vocab, (args.batch, args.length), generator=g)
    steps = {}
    for kind in ("plain", "default", "matched"):
        torch.manual_seed(0)
        model = build(kind, args.vocab, args.d_model, args.layers, heads, args.length)
        steps[kind] = trainer(model, tokens, targets)
    for step in steps.values():
        time_steps(step, args.warmup)
    times = {kind: [] for kind in steps}
    for r in range(args.runs):
        order = list(steps) if r % 2 == 0 else list(reversed(steps))  # A B C, C B A, ...
        for kind in order:
            times[kind].append(time_steps(steps[kind], args.steps))
    rows = []
    plain = times["plain"]
    for kind in ("default", "matched"):
        ratios = [s / p for s, p in zip(times[kind], plain, strict=True)]
        pq, sq, rq = quartiles(plain), quartiles(times[kind]), quartiles(ratios)
        rows.append({
            "heads": heads, "config": kind, "plain_ms": round(pq[1], 3), "seqlab_ms": round(sq[1], 3),
            "plain_iqr_ms": [round(pq[0], 3), round(pq[2], 3)],
            "seqlab_iqr_ms": [round(sq[0], 3), round(sq[2], 3)],
            "ratio": round(sq[1] / pq[1], 4), "paired_ratio": round(rq[1], 4),
            "ratio_iqr": [round(rq[0], 4), round(rq[2], 4)],
        })
    return rows


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--length", type=int, default=64)
    p.add_argument("--vocab", type=int, default=128)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", default="1,4", help="comma-separated head counts")
    p.add_argument("--runs", type=int, default=30, help="timed runs per model (interleaved)")
    p.add_argument("--steps", type=int, default=5, help="steps per timed run")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps per model first")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON path ('-' for none)")
    args = p.parse_args(argv)
    heads = [int(h) for h in args.heads.split(",")]
    if args.runs < 1 or args.steps < 1 or args.warmup < 0 or args.threads < 1:
        p.error("--runs, --steps and --threads must be >= 1, --warmup >= 0")
    torch.set_num_threads(args.threads)
    rows = [row for h in heads for row in measure(h, args)]
    print(f"AdamW step, batch {args.batch}, length {args.length}, vocab {args.vocab}, "
          f"d_model {args.d_model}, {args.layers} layers, {args.threads} threads; median ms [IQR] over "
          f"{args.runs} interleaved runs of {args.steps} steps")
    print(f"{'heads':>5} {'config':>8} {'plain ms':>18} {'seqlab ms':>18} {'ratio':>6} {'paired':>6} "
          f"{'paired IQR':>12}")
    for r in rows:
        print(f"{r['heads']:>5} {r['config']:>8} "
              f"{r['plain_ms']:>7.2f} [{r['plain_iqr_ms'][0]:.1f}-{r['plain_iqr_ms'][1]:.1f}] "
              f"{r['seqlab_ms']:>7.2f} [{r['seqlab_iqr_ms'][0]:.1f}-{r['seqlab_iqr_ms'][1]:.1f}] "
              f"{r['ratio']:>6.3f} {r['paired_ratio']:>6.3f} {r['ratio_iqr'][0]:.3f}-{r['ratio_iqr'][1]:.3f}")
    result = {
        "benchmark": "overhead",
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch": torch.__version__, "seqlab": getattr(seqlab, "__version__", "?")},
        "rows": rows,
    }
    if str(args.out) != "-":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
