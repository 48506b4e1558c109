"""Why does seqlab's attention learn MQAR slower than a plain transformer? One run per call.

The plain reference (written here, outside seqlab's model code): token embedding + learned position
embedding, pre-LayerNorm blocks of causal SDPA attention and a 4x GELU MLP, final LayerNorm, linear
head, PyTorch's default initialisation. Both arms train with seqlab's :func:`seqlab.train.fit` on the
same MQAR batches (batch ``s`` is a function of ``s``) and evaluate on the same 256 held-out examples,
stopping early at 0.99 accuracy. Each run appends one JSON line to ``--out``.

    PYTHONPATH=src python3 benchmarks/mqar_bisect.py --arm plain --heads 1
    PYTHONPATH=src python3 benchmarks/mqar_bisect.py --arm seqlab --heads 4 --lr 3e-3
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.models import SequenceModel
from seqlab.tasks.mqar import MQAR
from seqlab.train import fit
from seqlab.train.losses import masked_accuracy


class PlainBlock(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.ln2(x))


class PlainModel(nn.Module):
    def __init__(self, vocab: int, length: int, d: int, layers: int, heads: int):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(length, d)
        self.blocks = nn.ModuleList(PlainBlock(d, heads) for _ in range(layers))
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)

    def forward(self, tokens):
        x = self.tok(tokens) + self.pos(torch.arange(tokens.shape[1], device=tokens.device))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arm", choices=("plain", "seqlab"), default="seqlab")
    p.add_argument("--mixer", default="attention")
    p.add_argument("--mixer-cfg", default="{}", help="JSON dict passed to the mixer")
    p.add_argument("--hybrid", default=None, help="comma list of per-layer mixers (built by hand)")
    p.add_argument("--heads", type=int, default=None)
    p.add_argument("--pos", default=None, help="seqlab: mixer pos (rope/none/alibi)")
    p.add_argument("--pos-enc", default="none", help="seqlab: model-level positional encoding")
    p.add_argument("--vocab", type=int, default=128)
    p.add_argument("--length", type=int, default=64)
    p.add_argument("--pairs", type=int, default=16)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--wd", type=float, default=0.01)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--schedule", default="constant")
    p.add_argument("--clip", type=float, default=0.0)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default="")
    p.add_argument("--out", default="/tmp/mqar_runs.jsonl")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    task = MQAR(vocab_size=a.vocab, seq_len=a.length, n_pairs=a.pairs)
    if a.arm == "plain":
        model = PlainModel(a.vocab, a.length, a.d, a.layers, a.heads or 1)
    else:
        cfg = json.loads(a.mixer_cfg)
        if a.heads is not None:
            cfg["n_heads"] = a.heads
        if a.pos is not None:
            cfg["pos"] = a.pos
        model = SequenceModel(
            mixer=a.mixer, d_model=a.d, n_layers=a.layers, vocab_size=a.vocab, mixer_cfg=cfg,
            pos_enc=a.pos_enc,
        )
        if a.hybrid:
            from seqlab.models.sequence_model import Block
            from seqlab.registry import create

            names = a.hybrid.split(",")
            model.blocks = nn.ModuleList(
                Block(create("mixer", n, d_model=a.d, **(cfg if n == a.mixer else {})), a.d) for n in names
            )
    test = task.sample(256, seed=10_000 + a.seed, split="test")
    t0, c0 = time.perf_counter(), time.process_time()

    def batches(step):
        return task.sample(a.batch, seed=a.seed * 1_000_003 + step)

    def eval_fn(m):
        acc = masked_accuracy(m(test["inputs"]), test)
        print(f"{a.tag} eval acc {acc:.4f} at {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        return {"accuracy": acc}

    res = fit(
        model, batches, steps=a.steps, lr=a.lr, weight_decay=a.wd, warmup=a.warmup, schedule=a.schedule,
        clip=a.clip or None, eval_fn=eval_fn, eval_every=a.eval_every, early_stop=("accuracy", 0.99),
        progress=False, seed=a.seed,
    )
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    accs = [(r["step"], r["accuracy"]) for r in res.history if r.get("eval")]
    row = {
        **{k: v for k, v in vars(a).items() if k != "out"},
        "steps_done": res.steps_done, "reached": res.stopped_early, "final_acc": round(accs[-1][1], 4),
        "best_acc": round(max(x for _, x in accs), 4), "seconds": round(secs, 1),
        "cpu_seconds": round(cpu, 1), "params": sum(q.numel() for q in model.parameters()),
    }
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
