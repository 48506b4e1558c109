"""Time per probe on SmolLM2-135M: hidden states, CKA / mutual k-NN across all 30 layers, collisions, SipIt.

    python benchmarks/probe.py [--prompts 256] [--length 8] [--sipit-prompts 4] [--layer 4] [--threads 2]
    python benchmarks/probe.py --quick      # 32 prompts, 2 SipIt prompts

Prompts are sentences of gensim's Lee corpus cut to ``--length`` tokens (unpadded). Rows:

* ``hidden states``: one ``lm.hidden_states`` pass over all prompts (batches of 32);
* ``cka consecutive``: linear CKA of every pair of consecutive layers (30 pairs), tokens as samples;
* ``cka debiased consecutive``: the same with the unbiased HSIC estimator;
* ``mutual_knn vs last``: mutual 10-NN of every layer's mean-pooled states with the last layer's;
* ``collision test``: minimum pairwise distance of the last-token states (all pairs), one layer;
* ``sipit linear`` / ``sipit scan``: seconds per recovered token at ``--layer`` (linear candidate order,
  and the vocabulary scan on the first two tokens of the first prompt), with the exact-recovery rate.

Wall-clock numbers on a shared CPU are noisy: the run records the load average before and after.
Writes JSON (default ``benchmarks/results/cpu-2core/probe.json``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from seqlab.bench.speed.run import write_json
from seqlab.probe import cka, collision_test, fit_linear_inverse, layer_states, mutual_knn, sipit_search
from seqlab.probe.experiments import lee_sentences, polarity

OUT = Path(__file__).parent / "results" / "cpu-2core" / "probe.json"


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompts", type=int, default=256)
    p.add_argument("--length", type=int, default=8)
    p.add_argument("--sipit-prompts", type=int, default=4)
    p.add_argument("--layer", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(OUT))
    a = p.parse_args(argv)
    if a.quick:
        a.prompts, a.sipit_prompts = 32, 2
    torch.set_num_threads(a.threads)
    load0 = os.getloadavg()[0]
    import seqlab.lm

    lm = seqlab.lm.load("smollm2-135m")
    rows = [r for r in (lm.encode([s]).ids[0, : a.length] for s in lee_sentences()) if len(r) == a.length]
    ids = torch.stack(rows[: a.prompts])
    hs, t_hidden = _timed(
        lambda: [
            torch.cat(x) for x in zip(*(layer_states(lm, ids[i : i + 32]) for i in range(0, len(ids), 32)))
        ]
    )
    toks = [h.reshape(-1, h.shape[-1]) for h in hs]
    pooled = [h.mean(1) for h in hs]
    _, t_cka = _timed(lambda: [cka(x, y) for x, y in zip(toks, toks[1:])])
    _, t_dcka = _timed(lambda: [cka(x, y, debiased=True) for x, y in zip(toks, toks[1:])])
    _, t_knn = _timed(lambda: [mutual_knn(x, pooled[-1], 10) for x in pooled])
    coll, t_coll = _timed(lambda: collision_test(lm, ids, layer=-1))
    fit_texts, _ = polarity()
    fit = torch.stack([r for r in (lm.encode([t]).ids[0, :16] for t in fit_texts) if len(r) == 16])
    inv, t_fit = _timed(lambda: fit_linear_inverse(lm, a.layer, fit))
    sip = ids[: a.sipit_prompts]
    target = layer_states(lm, sip)[a.layer]
    res = sipit_search(lm, target, a.layer, order="linear", inverse=inv, batch=256)
    scan = sipit_search(lm, target[:1, :2], a.layer, order="scan", batch=1024)
    n_tok = res.ids.numel()
    table = [
        ("hidden states", f"{len(ids)} prompts x {a.length} tokens", t_hidden),
        ("cka consecutive", f"{len(toks) - 1} layer pairs, N={toks[0].shape[0]} tokens", t_cka),
        ("cka debiased consecutive", f"{len(toks) - 1} layer pairs", t_dcka),
        ("mutual_knn vs last", f"{len(pooled)} layers, N={len(ids)}", t_knn),
        ("collision test", f"{coll['pairs']} pairs, min distance {coll['min_distance']:.3g}", t_coll),
        ("fit linear inverse", f"{fit.numel()} tokens, layer {a.layer}", t_fit),
        (
            "sipit linear / token",
            f"{n_tok} tokens, {100 * float(res.exact.float().mean()):.0f}% exact, "
            f"{float(res.checked.float().mean()):.0f} candidates",
            res.seconds / n_tok,
        ),
        (
            "sipit scan / token",
            f"2 tokens, {float(scan.checked.float().mean()):.0f} candidates",
            scan.seconds / 2,
        ),
    ]
    width = max(len(r[0]) for r in table)
    print(f"{'probe'.ljust(width)}  {'seconds':>9}  what")
    for name, what, sec in table:
        print(f"{name.ljust(width)}  {sec:9.3f}  {what}")
    result = {
        "model": "smollm2-135m",
        "threads": a.threads,
        "prompts": len(ids),
        "length": a.length,
        "rows": [{"probe": n, "what": w, "seconds": s} for n, w, s in table],
        "sipit_exact": float(res.exact.float().mean()),
        "collisions": coll["collisions"],
        "load_before": load0,
        "load_after": os.getloadavg()[0],
    }
    write_json(result, a.out)
    print(f"wrote {a.out} (load average {load0:.1f} -> {result['load_after']:.1f})")
    return result


if __name__ == "__main__":
    main()
