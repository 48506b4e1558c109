"""The one training loop and evaluation of every reasoner.

``fit(reasoner, task, steps=..., ...)``: AdamW on fresh batches ``task.sample(batch_size,
seed=...)`` from the training seed range. A reasoner with a curriculum (``n_stages > 0``, Coconut)
spends ``stage_steps`` steps on each stage ``0 .. n_stages - 1`` and the rest on the last stage;
the optimizer is reset when the stage changes (as in Coconut). ``evaluate`` answers held-out
questions (the task's test seed range) and reports accuracy, discrete tokens and continuous
thoughts per answer, and wall seconds per answer.
"""

from __future__ import annotations

import time

import torch

from seqlab.reason.base import Reasoner


def stage_at(step: int, n_stages: int, stage_steps: int | None) -> int | None:
    """The curriculum stage of training step ``step`` (None for a reasoner without stages)."""
    if not n_stages:
        return None
    if stage_steps is None:
        raise ValueError(f"a reasoner with {n_stages} curriculum stages needs stage_steps")
    return min(step // stage_steps, n_stages)


def fit(
    reasoner: Reasoner,
    task,
    *,
    steps: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    stage_steps: int | None = None,
    weight_decay: float = 0.01,
    grad_clip: float = 1.0,
) -> dict:
    """Train ``reasoner`` for ``steps`` steps; returns the final loss, stage and seconds."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if not isinstance(reasoner, Reasoner):
        raise ValueError(f"fit expects a seqlab.reason Reasoner, got {type(reasoner).__name__}")
    n_stages = int(getattr(reasoner, "n_stages", 0))
    if n_stages and stage_steps is not None and stage_steps * n_stages >= steps:
        raise ValueError(
            f"{n_stages} stages of {stage_steps} steps leave no steps for the last stage (steps={steps})"
        )
    torch.manual_seed(seed)
    reasoner.train()
    opt, stage, losses = None, "unset", []
    t0 = time.perf_counter()
    for step in range(steps):
        s = stage_at(step, n_stages, stage_steps)
        if s != stage:
            opt = torch.optim.AdamW(reasoner.parameters(), lr=lr, weight_decay=weight_decay)
            stage = s
        batch = task.sample(batch_size, seed=seed * 100_003 + step)
        loss = reasoner.loss(batch, stage=s)
        opt.zero_grad()
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(reasoner.parameters(), grad_clip)
        opt.step()
        losses.append(float(loss.detach()))
    reasoner.eval()
    tail = losses[-max(1, min(20, len(losses))) :]
    return {"loss": sum(tail) / len(tail), "stage": stage, "train_seconds": time.perf_counter() - t0}


@torch.no_grad()
def evaluate(
    reasoner: Reasoner, task, n: int = 256, seed: int = 0, batch_size: int = 128, **predict_kw
) -> dict:
    """Accuracy on ``n`` test questions, tokens and thoughts per answer, seconds per answer."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    reasoner.eval()
    correct = tokens = thoughts = 0
    t0 = time.perf_counter()
    done = 0
    while done < n:
        k = min(batch_size, n - done)
        batch = task.sample(k, seed=seed * 100_003 + done, split="test")
        pred = reasoner.predict(batch, **predict_kw)
        correct += int((pred.answer == batch["answer"]).sum())
        tokens += int(pred.tokens.sum())
        thoughts += pred.thoughts * k
        done += k
    secs = time.perf_counter() - t0
    return {
        "accuracy": correct / n,
        "tokens": tokens / n,
        "thoughts": thoughts / n,
        "seconds_per_answer": secs / n,
    }
