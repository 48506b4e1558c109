"""The one training loop: :func:`fit`.

AdamW (or Adam/SGD) over two parameter groups (:func:`seqlab.train.optim.param_groups`: weight
matrices decayed; biases, norms, embeddings and tagged SSM parameters not), linear warm-up + cosine
(or constant) learning rate, gradient clipping, periodic evaluation with early stopping on a target
metric, bf16 autocast on CUDA, a progress bar (loss, accuracy, tokens/s), and atomic safetensors +
JSON checkpoints from which ``resume=True`` continues a killed run exactly (on CPU the final
parameters equal an uninterrupted run's).

Exact resume needs the batch at step ``s`` to be a function of ``s``: pass ``batches`` as a callable
``batches(step) -> batch``. An iterable is re-iterated from its start and the consumed batches skipped.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from seqlab.train import distributed as ddp
from seqlab.train.callbacks import Callback
from seqlab.train.checkpoint import latest_checkpoint, load_checkpoint, read_checkpoint_meta, save_checkpoint
from seqlab.train.losses import masked_accuracy, masked_loss
from seqlab.train.optim import make_optimizer, param_groups

LossFn = Callable[[nn.Module, dict[str, Any]], tuple[torch.Tensor, Any]]


@dataclass
class FitResult:
    """What :func:`fit` returns; ``history`` rows hold step, loss, eval metrics and tokens/s."""

    steps_done: int
    loss: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    wall_time: float = 0.0

    @property
    def last_eval(self) -> dict[str, float]:
        """The metrics of the most recent evaluation (empty when none ran)."""
        for row in reversed(self.history):
            if row.get("eval"):
                return {k: v for k, v in row.items() if k not in ("step", "loss", "tokens_per_s", "eval")}
        return {}


def lr_at(step: int, *, lr: float, steps: int, warmup: int, schedule: str) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warm-up, then cosine to 0 or flat."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    if schedule == "constant":
        return lr
    span = max(1, steps - warmup)
    return lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / span)))


def _to_device(batch: dict[str, Any], device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _batch_source(batches, start: int) -> Callable[[int], dict[str, Any]]:
    if callable(batches):
        return batches
    if not isinstance(batches, Iterable):
        raise ValueError(f"batches must be a callable batches(step) or an iterable, got {type(batches)}")
    it = iter(batches)
    for _ in range(start):
        next(it)

    def get(step: int):
        try:
            return next(it)
        except StopIteration:
            raise ValueError(f"batches iterable ran out at step {step}") from None

    return get


def _check_args(steps, schedule, early_stop, eval_every, eval_fn, checkpoint_every, checkpoint_dir, resume):
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    if early_stop is not None and (eval_fn is None or len(early_stop) != 2):
        raise ValueError("early_stop=(metric_name, target) needs an eval_fn")
    if eval_every is not None and eval_every < 1:
        raise ValueError(f"eval_every must be >= 1, got {eval_every}")
    if checkpoint_every is not None and (checkpoint_dir is None or checkpoint_every < 1):
        raise ValueError("checkpoint_every must be >= 1 and needs a checkpoint_dir")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs a checkpoint_dir")


def _progress(enabled: bool, steps: int, start: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("fit"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        transient=False,
    )
    bar.start()
    bar.add_task("fit", total=steps, completed=start, info="")
    return bar


def fit(
    model: nn.Module,
    batches: Callable[[int], dict[str, Any]] | Iterable[dict[str, Any]],
    loss_fn: LossFn | None = None,
    *,
    steps: int,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    warmup: int = 0,
    schedule: str = "cosine",
    clip: float | None = 1.0,
    optimizer: str = "adamw",
    callbacks: Sequence[Callback] = (),
    eval_fn: Callable[[nn.Module], dict[str, float]] | None = None,
    eval_every: int | None = None,
    early_stop: tuple[str, float] | None = None,
    checkpoint_dir: str | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    seed: int = 0,
    device: str | torch.device = "cpu",
    amp: str | None = None,
) -> FitResult:
    """Train ``model`` for ``steps`` optimizer steps on ``batches``; see the module docstring."""
    _check_args(steps, schedule, early_stop, eval_every, eval_fn, checkpoint_every, checkpoint_dir, resume)
    device = torch.device(device)
    if amp is None:
        amp = "bf16" if device.type == "cuda" else "none"
    if amp not in ("bf16", "none"):
        raise ValueError(f"amp must be None, 'bf16' or 'none', got {amp!r}")
    if amp == "bf16" and device.type != "cuda":
        raise ValueError("amp='bf16' (mixed precision) runs on CUDA only; use amp='none' on CPU")
    loss_fn = loss_fn or masked_loss
    model.to(device).train()
    rank, world = ddp.init_distributed()  # under torchrun: DDP over the default process group
    train_model = ddp.wrap_model(model, device)
    # decay matrices only; biases, norms, embeddings and tagged SSM parameters are not (train/optim.py)
    opt = make_optimizer(optimizer, param_groups(model, weight_decay), lr)

    start, history, stopped = 0, [], False
    if resume and rank > 0:
        ddp.barrier()  # rank 0 first removes what a killed writer left, then the others read
    path = latest_checkpoint(checkpoint_dir) if resume else None
    if resume and rank == 0 and world > 1:
        ddp.barrier()
    if resume:
        ddp.check_ranks_agree(
            -1 if path is None else int(path.stem.split("-")[1]),
            "the checkpoint to resume (step, -1 for none); checkpoint_dir must be a folder every rank sees",
        )
    if path is not None:
        saved = read_checkpoint_meta(path)["step"]  # checked before the tensors are loaded
        if saved > steps:
            raise ValueError(
                f"checkpoint {path} is at step {saved}, beyond steps={steps} of this run; resume with "
                f"steps >= {saved}, or delete the folder {path.parent} to start over"
            )
        state = load_checkpoint(path, model, opt, device)
        ddp.check_world_size(state, path)
        start, history, stopped = state["step"], state["history"], state["stopped_early"]
    else:
        torch.manual_seed(seed)
    for cb in callbacks:
        cb.on_fit_start(model, opt)

    get_batch = _batch_source(batches, start)
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp == "bf16" else contextlib.nullcontext
    )

    def evaluate(step: int, loss: float, tps: float) -> bool:
        model.eval()
        with torch.no_grad(), autocast():
            metrics = {k: float(v) for k, v in eval_fn(model).items()}
        model.train()
        history.append({"step": step, "loss": loss, "tokens_per_s": tps, "eval": 1.0, **metrics})
        if early_stop is None:
            return False
        name, target = early_stop
        if name not in metrics:
            raise ValueError(f"early_stop metric {name!r} not among eval metrics {sorted(metrics)}")
        return metrics[name] >= target

    bar = _progress(progress and rank == 0 and start < steps and not stopped, steps, start)
    t0, tick, tokens, loss_val, acc = time.perf_counter(), time.perf_counter(), 0, float("nan"), None
    if history:
        loss_val = history[-1]["loss"]
    step = start
    try:
        while step < steps and not stopped:
            for g in opt.param_groups:
                g["lr"] = lr_at(step, lr=lr, steps=steps, warmup=warmup, schedule=schedule)
            batch = _to_device(ddp.shard_batch(get_batch(step), rank, world), device)
            for cb in callbacks:
                batch = cb.transform_batch(model, batch)
            with autocast(), ddp.collective_guard(step + 1):
                loss, outputs = loss_fn(train_model, batch)
                for cb in callbacks:
                    extra = cb.extra_loss(model, batch, outputs)
                    if extra is not None:
                        loss = loss + extra
            if not torch.isfinite(loss):
                raise ValueError(
                    f"training loss became {loss.item()} at step {step}; lower lr or check inputs"
                )
            opt.zero_grad(set_to_none=True)
            with ddp.collective_guard(step + 1):
                loss.backward()
            for cb in callbacks:
                cb.after_backward(model)
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            step += 1
            with ddp.collective_guard(step):
                loss_val = ddp.mean_over_ranks(float(loss.detach()))
            inputs = batch["inputs"]
            tokens += inputs.shape[0] * (inputs.shape[1] if inputs.dim() > 1 else 1)
            metrics = {"loss": loss_val, "lr": opt.param_groups[0]["lr"]}
            for cb in callbacks:
                cb.after_step(model, step, metrics)
            now = time.perf_counter()
            tps = tokens / max(now - tick, 1e-9)
            if eval_fn is not None and ((eval_every and step % eval_every == 0) or step == steps):
                stopped = evaluate(step, loss_val, tps)
                tick, tokens = now, 0
            if checkpoint_every and rank == 0 and (step % checkpoint_every == 0 or step == steps or stopped):
                save_checkpoint(
                    checkpoint_dir, step, model, opt, history, stopped, extra=ddp.world_size_extra()
                )
            if bar is not None:
                if step % 10 == 0 or step == steps or stopped:
                    acc = masked_accuracy(outputs, batch)
                info = (
                    f"loss {loss_val:.4f}"
                    + (f" acc {acc:.3f}" if acc is not None else "")
                    + f" {tps:,.0f} tok/s"
                )
                bar.update(bar.task_ids[0], completed=step, info=info)
    finally:
        if bar is not None:
            bar.stop()
    if eval_fn is not None and (not history or history[-1]["step"] != step or not history[-1].get("eval")):
        evaluate(step, loss_val, 0.0)
    for cb in callbacks:
        cb.on_fit_end(model)
    return FitResult(step, loss_val, history, stopped, time.perf_counter() - t0)
