"""Decoding speed: seqlab.decode beside transformers' generate, and step decoding vs re-running the prefix.

    python benchmarks/decode.py [--prompts 3] [--new-tokens 16] [--reps 2] [--threads 2] [--out PATH]
    python benchmarks/decode.py --quick    # 1 prompt, 8 tokens, 1 rep, two mixers

Part 1, SmolLM2-135M (``seqlab.lm.load("smollm2-135m")``), one prompt at a time: greedy and beam
search (4 beams, length penalty 1, no early stopping) with ``seqlab.decode.generate`` and with
``model.generate`` of transformers on the same model object, in the same run, interleaved. Each
cell is the median wall time over ``reps`` runs per prompt, summed over prompts; tokens/s counts new
tokens (beam: of the returned sequence). ``ratio`` = seqlab tokens/s / transformers tokens/s (goal
>= 1.0); both sides must return the same sequences (``same``).

Part 2, seqlab mixers: a small ``SequenceModel`` (d 64, 2 layers, vocab 64) continues a 32-token
prompt greedily by ``SequenceModel.step`` (state carried) and by re-running the whole prefix every
token (what a model without a recurrent state must do). ``speedup`` = step tokens/s / re-run tokens/s.

Wall-clock numbers on a shared CPU are noisy: the run records the load average before and after.
Prints a table and writes JSON (default ``benchmarks/results/cpu-2core/decode.json``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

import seqlab.decode as D
from seqlab.bench.speed import write_json
from seqlab.models import SequenceModel

PROMPTS = ["The capital of France is", "Once upon a time", "def fibonacci(n):", "Water boils at"]
MIXERS = ["gateloop", "lstm", "mamba", "lru", "attention"]
OUT = Path(__file__).parent / "results" / "cpu-2core" / "decode.json"


def _rerun(m, ids, new_tokens: int) -> torch.Tensor:
    """Greedy continuation by re-running the whole prefix for every new token."""
    x = ids
    with torch.no_grad():
        for _ in range(new_tokens):
            x = torch.cat([x, m(x)[:, -1].argmax(-1, keepdim=True)], 1)
    return x


def lm_rows(prompts, new_tokens: int, reps: int) -> list[dict]:
    import seqlab.lm as L

    lm = L.load("smollm2-135m")
    settings = {
        "greedy": ({}, dict(do_sample=False, num_beams=1)),
        "beam4": (
            dict(num_beams=4, length_penalty=1.0, early_stopping=False),
            dict(do_sample=False, num_beams=4, length_penalty=1.0, early_stopping=False),
        ),
    }
    rows = []
    for label, (ours_kw, hf_kw) in settings.items():
        method = "beam" if label.startswith("beam") else "greedy"
        t_ours = t_hf = 0.0
        n_new, same = 0, True
        for p in prompts:
            ids, mask = lm.encode([p])
            a_times, b_times = [], []
            for _ in range(reps):
                t = time.perf_counter()
                a = D.generate(lm, ids, method, attention_mask=mask, max_new_tokens=new_tokens, **ours_kw)
                ta = time.perf_counter() - t
                t = time.perf_counter()
                with torch.no_grad():
                    b = lm.model.generate(
                        input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens, **hf_kw
                    )
                tb = time.perf_counter() - t
                a_times.append(ta)
                b_times.append(tb)
            same &= torch.equal(a, b)
            n_new += a.shape[1] - ids.shape[1]
            t_ours += statistics.median(a_times)
            t_hf += statistics.median(b_times)
        rows.append(
            {
                "part": "smollm2-135m",
                "method": label,
                "new_tokens": n_new,
                "seqlab_tok_s": n_new / t_ours,
                "transformers_tok_s": n_new / t_hf,
                "ratio": t_hf / t_ours,
                "same": bool(same),
            }
        )
        print(_fmt(rows[-1]), flush=True)
    return rows


def mixer_rows(mixers, new_tokens: int, reps: int) -> list[dict]:
    rows = []
    for name in mixers:
        torch.manual_seed(0)
        m = SequenceModel(mixer=name, d_model=64, n_layers=2, vocab_size=64).eval()
        ids = torch.randint(0, 64, (1, 32), generator=torch.Generator().manual_seed(0))

        step_t, rerun_t = [], []
        for _ in range(reps):
            t = time.perf_counter()
            a = D.generate(m, ids, "greedy", max_new_tokens=new_tokens)
            step_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            b = _rerun(m, ids, new_tokens)
            rerun_t.append(time.perf_counter() - t)
        rows.append(
            {
                "part": "mixer",
                "method": f"{name} greedy",
                "new_tokens": new_tokens,
                "step_tok_s": new_tokens / statistics.median(step_t),
                "rerun_tok_s": new_tokens / statistics.median(rerun_t),
                "speedup": statistics.median(rerun_t) / statistics.median(step_t),
                "same": bool(torch.equal(a, b)),
            }
        )
        print(_fmt(rows[-1]), flush=True)
    return rows


def _fmt(r: dict) -> str:
    if r["part"] == "mixer":
        return (
            f"| {r['method']:<22} | step {r['step_tok_s']:8.1f} tok/s | re-run {r['rerun_tok_s']:8.1f} tok/s "
            f"| x{r['speedup']:.2f} | same={r['same']} |"
        )
    return (
        f"| smollm2 {r['method']:<14} | seqlab {r['seqlab_tok_s']:7.2f} tok/s | transformers "
        f"{r['transformers_tok_s']:7.2f} tok/s | ratio {r['ratio']:.2f} | same={r['same']} |"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=3, help="number of prompts (default 3)")
    ap.add_argument("--new-tokens", type=int, default=16, help="new tokens per prompt (default 16)")
    ap.add_argument("--mixer-tokens", type=int, default=64, help="new tokens in part 2 (default 64)")
    ap.add_argument("--reps", type=int, default=2, help="repetitions per cell, median taken (default 2)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--quick", action="store_true", help="1 prompt, 8 tokens, 1 rep, two mixers")
    ap.add_argument("--out", default=str(OUT), help=f"JSON output (default {OUT})")
    args = ap.parse_args(argv)
    if args.quick:
        args.prompts, args.new_tokens, args.reps, args.mixer_tokens = 1, 8, 1, 16
    if not 1 <= args.prompts <= len(PROMPTS):
        raise SystemExit(f"--prompts must lie in [1, {len(PROMPTS)}], got {args.prompts}")
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    mixers = MIXERS[:2] if args.quick else MIXERS
    rows = lm_rows(PROMPTS[: args.prompts], args.new_tokens, args.reps)
    rows += mixer_rows(mixers, args.mixer_tokens, args.reps)
    result = {
        "benchmark": "decode",
        "torch": torch.__version__,
        "threads": args.threads,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "note": "shared 2-core CPU (about 9 engineers' jobs at once): wall-clock times are noisy",
        "args": vars(args),
        "rows": rows,
    }
    print(f"wrote {write_json(result, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
