"""Word vectors: seqlab word2vec (SG, CBOW) and fastText beside gensim's, same corpus and hyperparameters.

    python benchmarks/embed_words.py [--seeds 3] [--epochs 5] [--models sg,cbow,fasttext] [--threads 2]
    python benchmarks/embed_words.py --quick     # 1 seed, 1 epoch, SG only
    python benchmarks/embed_words.py --models sg_hs,cbow_hs --out .../embed_words_hs.json  # hier. softmax

Corpus: gensim's ``head500.noblanks.cor`` (331k Porter-stemmed words) split into 1,000-token sentences.
Hyperparameters for both sides: dim 100, window 5, 5 negatives, min count 5, sample 1e-3, alpha 0.025
(linear decay to 1e-4), ``epochs``,
``threads`` (gensim ``workers``, torch intra-op threads); fastText n-grams 3-6 into ``--bucket`` rows.
Evaluation (the same :mod:`seqlab.embed.evaluate` functions for both): Spearman on WordSim353 and
SimLex-999 (pairs stemmed with gensim's Porter stemmer, in-vocabulary pairs only), 3CosAdd accuracy on
the in-vocabulary (stemmed) analogy questions. Speed: raw corpus words x epochs / wall seconds of the
fit (gensim's includes its vocabulary scan, as does seqlab's), and per CPU-second of the process (all its
threads; the fairer figure on a shared, loaded machine). ``ratio`` = seqlab's / gensim's.

Wall-clock numbers on a shared CPU are noisy: the load average is recorded before and after.
Prints a table and writes JSON (default ``benchmarks/results/cpu-2core/embed_words.json``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from seqlab.embed import data, evaluate
from seqlab.embed.fasttext import FastText
from seqlab.embed.word2vec import Word2Vec

OUT = Path(__file__).parent / "results" / "cpu-2core" / "embed_words.json"


class _GensimVectors:
    """The two attributes :mod:`seqlab.embed.evaluate` reads, from a gensim KeyedVectors."""

    def __init__(self, kv):
        self.key_to_index = kv.key_to_index
        self.vectors = torch.from_numpy(kv.vectors.copy())


def _evaluate(model, ws, sl, an) -> dict:
    w = evaluate.word_similarity(model, ws, stem=True)
    s = evaluate.word_similarity(model, sl, stem=True)
    a = evaluate.analogy_accuracy(model, an, stem=True)
    return {
        "ws353": w["spearman"],
        "ws353_pairs": w["pairs_used"],
        "simlex": s["spearman"],
        "simlex_pairs": s["pairs_used"],
        "analogy": a["accuracy"],
        "analogy_used": a["used"],
    }


def _hs(kind) -> bool:
    """``sg_hs`` / ``cbow_hs``: hierarchical softmax alone (``hs=1, negative=0``) on both sides."""
    return kind.endswith("_hs")


def run_seqlab(kind, corpus, seed, args) -> dict:
    common = dict(
        sg=not kind.startswith("cbow"),
        vector_size=100,
        window=5,
        negative=0 if _hs(kind) else 5,
        hs=int(_hs(kind)),
        min_count=5,
        epochs=args.epochs,
        sample=1e-3,
        alpha=0.025,
        seed=seed,
        threads=args.threads,
        shared_negatives=args.shared_negatives,
    )
    m = FastText(bucket=args.bucket, **common) if kind == "fasttext" else Word2Vec(**common)
    t0, c0 = time.perf_counter(), time.process_time()
    m.fit(corpus)
    return m, time.perf_counter() - t0, time.process_time() - c0


def run_gensim(kind, corpus, seed, args):
    from gensim.models import FastText as GFastText
    from gensim.models import Word2Vec as GWord2Vec

    common = dict(
        sg=int(not kind.startswith("cbow")),
        vector_size=100,
        window=5,
        negative=0 if _hs(kind) else 5,
        hs=int(_hs(kind)),
        min_count=5,
        epochs=args.epochs,
        sample=1e-3,
        alpha=0.025,
        seed=seed,
        workers=args.threads,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    if kind == "fasttext":
        m = GFastText(corpus, min_n=3, max_n=6, bucket=args.bucket, **common)
    else:
        m = GWord2Vec(corpus, **common)
    return _GensimVectors(m.wv), time.perf_counter() - t0, time.process_time() - c0


def _mean_sd(xs):
    xs = [x for x in xs if x == x]
    if not xs:
        return float("nan"), float("nan")
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--models", default="sg,cbow,fasttext", help="also sg_hs, cbow_hs (hs=1, negative=0)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bucket", type=int, default=200_000)
    p.add_argument("--shared-negatives", type=int, default=1, help="seqlab: pairs sharing their noise words")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.models = 1, 1, "sg"
    corpus = data.head500(max_len=1000)
    n_words = sum(len(s) for s in corpus)
    ws, sl, an = data.wordsim353(), data.simlex999(), data.analogies()
    load_before = os.getloadavg()
    rows, cells = [], []
    for kind in args.models.split(","):
        per = {"seqlab": [], "gensim": []}
        for seed in range(args.seeds):
            for side, fn in (("gensim", run_gensim), ("seqlab", run_seqlab)):
                model, secs, cpu = fn(kind, corpus, seed, args)
                r = _evaluate(model, ws, sl, an)
                r.update(model=kind, side=side, seed=seed, seconds=secs, cpu_seconds=cpu)
                r.update(
                    words_per_s=n_words * args.epochs / secs, words_per_cpu_s=n_words * args.epochs / cpu
                )
                per[side].append(r)
                cells.append(r)
                print(
                    f"{kind:8s} {side:6s} seed {seed}: ws353 {r['ws353']:.3f} simlex {r['simlex']:.3f} "
                    f"analogy {r['analogy']:.3f} {r['words_per_s']:,.0f} words/s "
                    f"{r['words_per_cpu_s']:,.0f} words/CPU-s",
                    flush=True,
                )
        row = {"model": kind}
        for side in ("seqlab", "gensim"):
            for key in ("ws353", "simlex", "analogy", "words_per_s", "words_per_cpu_s"):
                m, sd = _mean_sd([r[key] for r in per[side]])
                row[f"{side}_{key}"], row[f"{side}_{key}_sd"] = m, sd
        row["ws353_gap"] = row["seqlab_ws353"] - row["gensim_ws353"]
        row["speed_ratio"] = row["seqlab_words_per_s"] / row["gensim_words_per_s"]
        row["cpu_speed_ratio"] = row["seqlab_words_per_cpu_s"] / row["gensim_words_per_cpu_s"]
        rows.append(row)
    load_after = os.getloadavg()
    print(
        f"\nhead500 ({n_words:,} words), {args.epochs} epochs, {args.seeds} seeds, threads {args.threads}; "
        f"load {load_before[0]:.1f} -> {load_after[0]:.1f}"
    )
    head = "| model | WS353 seqlab | WS353 gensim | SimLex seqlab | SimLex gensim | analogy seqlab | "
    head += "analogy gensim | words/s seqlab | words/s gensim | ratio | words/CPU-s seqlab | gensim | ratio |"
    print(head)
    print("|" + " --- |" * 13)
    for r in rows:

        def f(side, key, r=r):
            return f"{r[f'{side}_{key}']:.3f} ± {r[f'{side}_{key}_sd']:.3f}"

        print(
            f"| {r['model']} | {f('seqlab', 'ws353')} | {f('gensim', 'ws353')} | {f('seqlab', 'simlex')} | "
            f"{f('gensim', 'simlex')} | {f('seqlab', 'analogy')} | {f('gensim', 'analogy')} | "
            f"{r['seqlab_words_per_s']:,.0f} | {r['gensim_words_per_s']:,.0f} | {r['speed_ratio']:.2f} | "
            f"{r['seqlab_words_per_cpu_s']:,.0f} | {r['gensim_words_per_cpu_s']:,.0f} | "
            f"{r['cpu_speed_ratio']:.2f} |"
        )
    out = {
        "benchmark": "embed_words",
        "corpus": "head500.noblanks.cor, 1000-token sentences",
        "words": n_words,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "threads": args.threads,
        "bucket": args.bucket,
        "shared_negatives": args.shared_negatives,
        "load_before": load_before,
        "load_after": load_after,
        "machine": platform.machine(),
        "torch": torch.__version__,
        "rows": rows,
        "cells": cells,
    }
    from seqlab.bench.speed.run import write_json

    write_json(out, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
