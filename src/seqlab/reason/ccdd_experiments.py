"""Experiment cell of the CCDD claim: one diffusion model (joint or discrete-only) on a reasoning task.

``reason.ccdd`` trains a :class:`~seqlab.reason.ccdd.CCDD` denoiser on fresh training batches of a
reasoning task (``task``, ``task_kw``; every trace of one length) for ``steps`` AdamW steps, then
samples the trace and answer of ``eval_n`` held-out questions with ``sample_steps`` reverse steps
(greedy tokens) and of ``eval_n`` fresh training-split questions (the positive control).

Returns ``accuracy`` (answer token right), ``trace_accuracy`` (every step right),
``train_accuracy``, ``train_loss`` (token loss, last 20 steps) and ``train_seconds``.
"""

from __future__ import annotations

import time

import torch

from seqlab.experiments.cell import experiment
from seqlab.reason.ccdd import CCDD
from seqlab.registry import create

FRESH_TRAIN_SEED = 999_000_000


@torch.no_grad()
def answer_accuracy(model: CCDD, batch, steps: int, seed: int) -> tuple[float, float]:
    model.eval()
    x0 = model.targets(batch)
    x, _ = model.sample(batch["question"], steps, generator=torch.Generator().manual_seed(seed))
    return float((x[:, -1] == x0[:, -1]).float().mean()), float((x == x0).all(1).float().mean())


@experiment("reason.ccdd")
def ccdd_arm(params: dict, seed: int) -> dict:
    task = create("task", params["task"], **params.get("task_kw", {}))
    torch.manual_seed(seed)
    codes = None
    if params.get("codes", "random") != "random":  # a pretrained LM's embedding space, e.g. "smollm2-135m"
        from seqlab.lm import load
        from seqlab.reason.ccdd import lm_token_codes, task_token_strings

        codes = lm_token_codes(load(params["codes"]), task_token_strings(task), params.get("d_code", 16))
    model = CCDD(
        task.vocab_size,
        task.max_trace_len + 1,
        d_model=params.get("d_model", 64),
        n_layers=params.get("n_layers", 2),
        n_heads=params.get("n_heads", 4),
        d_code=params.get("d_code", 16),
        mode=params["mode"],
        codes=codes,
    )
    opt = torch.optim.AdamW(model.parameters(), lr=params.get("lr", 1e-3), weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    B, losses, t0 = params.get("batch_size", 64), [], time.perf_counter()
    model.train()
    for step in range(params["steps"]):
        loss = model.loss(task.sample(B, seed=seed * 100_003 + step), generator=g)
        opt.zero_grad()
        loss["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss["tokens"].detach()))
    secs = time.perf_counter() - t0
    n, S = params.get("eval_n", 256), params.get("sample_steps", task.max_trace_len + 1)
    acc, trace_acc = answer_accuracy(model, task.sample(n, seed=seed, split="test"), S, seed)
    train_acc, _ = answer_accuracy(model, task.sample(n, seed=FRESH_TRAIN_SEED + seed), S, seed)
    tail = losses[-20:]
    return {
        "accuracy": acc,
        "trace_accuracy": trace_acc,
        "train_accuracy": train_acc,
        "train_loss": sum(tail) / len(tail),
        "train_seconds": secs,
    }
