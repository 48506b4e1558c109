"""One benchmark run: build the task and model of a :class:`~seqlab.experiments.config.RunConfig`,
fit, evaluate.

Evaluation uses fixed test sets drawn from the task's test seed range: in distribution (a few
training lengths, or the task's fixed length) during training -- the early-stopping metric -- and,
at the end, every test length of a length-generalization task (the curve plus its mean, the score
of the Chomsky-hierarchy studies). The result is a JSON-able dict stored by the results store.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import torch
import torch.nn.functional as F

from seqlab.experiments.config import RunConfig
from seqlab.models import SequenceModel
from seqlab.registry import create, get
from seqlab.train import fit
from seqlab.train.losses import masked_loss_from_outputs
from seqlab.train.state_init import state_init_loss

EVAL_CHUNK = 64
LOWER_IS_BETTER = {"mse", "log_loss"}


def build_task(cfg: RunConfig):
    """The task of ``cfg``; impossible parameters raise ``ValueError`` here, before any training."""
    get("task", cfg.task)
    try:
        return create("task", cfg.task, **cfg.task_params)
    except TypeError as err:
        raise ValueError(f"task {cfg.task!r}: bad parameters {cfg.task_params}: {err}") from err


def build_model(cfg: RunConfig, task):
    if cfg.model == "pointer_network":
        torch.manual_seed(cfg.seed)
        mixer = None if cfg.mixer == "none" else cfg.mixer
        return create(
            "model",
            "pointer_network",
            d_input=task.d_input,
            d_model=cfg.d_model,
            mixer=mixer,
            n_layers=cfg.n_layers,
            mixer_cfg=dict(cfg.mixer_cfg),
            mask_chosen=cfg.pointer_mask,
        )
    if cfg.model != "sequence_model":
        raise ValueError(f"model must be 'sequence_model' or 'pointer_network', got {cfg.model!r}")
    names = cfg.mixer.split("+")  # "s4d+attention": one mixer per layer (a hybrid stack)
    if len(names) > 1 and len(names) != cfg.n_layers:
        raise ValueError(
            f"mixer {cfg.mixer!r} names {len(names)} layers ('+' separates one mixer per layer), "
            f"but n_layers={cfg.n_layers}"
        )
    for name in names:
        get("mixer", name)
    lengths = [max(task.test_lengths)] if task.test_lengths is not None else []
    lengths += list(cfg.eval_lengths or [])
    max_len = max([4096, *lengths, (cfg.randomized_positions or 0)])
    torch.manual_seed(cfg.seed)
    model = SequenceModel(
        mixer=names if len(names) > 1 else cfg.mixer,
        d_model=cfg.d_model,
        n_layers=cfg.n_layers,
        vocab_size=task.vocab_size,
        d_input=task.d_input if task.vocab_size is None else None,
        n_outputs=task.n_outputs,
        mixer_cfg=dict(cfg.mixer_cfg),
        pos_enc=cfg.pos_enc,
        max_len=max_len,
        randomized_positions=cfg.randomized_positions,
        # only passed when set, so configs without it build models of any SequenceModel version
        **({"random_positions_at_eval": True} if cfg.random_positions_at_eval else {}),
    )
    fixed = all(has_fixed_size_state(b.mixer) for b in model.blocks)
    if cfg.state_init != "zero" and not fixed:
        growth = [getattr(b.mixer, "state_growth", None) for b in model.blocks]
        raise ValueError(
            f"state_init={cfg.state_init!r} needs a recurrent mixer with a fixed-size state "
            f"(state_growth 'constant'); {cfg.mixer!r} has state_growth {growth!r}"
        )
    return model


def has_fixed_size_state(mixer) -> bool:
    """Whether ``mixer``'s recurrent state stays the same size however long the input: its declared
    ``state_growth`` is "constant" (read from the instance: attention with a window is "window")."""
    return getattr(mixer, "state_growth", None) == "constant"


def spread(values, k: int) -> list[int]:
    """``k`` values evenly spread over the sorted ``values`` (both ends included)."""
    vals = sorted(values)
    if len(vals) <= k:
        return vals
    return sorted({vals[round(i * (len(vals) - 1) / (k - 1))] for i in range(k)})


def id_lengths(task) -> list[int | None]:
    return [None] if task.train_lengths is None else spread(task.train_lengths, 4)


def ood_lengths(cfg: RunConfig, task) -> list[int]:
    if cfg.eval_lengths is not None:
        return list(cfg.eval_lengths)
    return [] if task.test_lengths is None else spread(task.test_lengths, 6)


def _batch_metrics(model, batch, metric: str) -> tuple[float, float]:
    """(sum of the per-position metric, number of labelled positions) over one batch."""
    out = model(batch["inputs"]).float()
    t, mask = batch["targets"], batch["mask"].bool()
    n = float(mask.sum())
    if metric == "accuracy":
        return float(((out.argmax(-1) == t) & mask).sum()), n
    if metric == "mse":
        return float(((out - t.float()) ** 2).mean(-1)[mask].sum()), n
    if metric == "log_loss":
        return float(F.cross_entropy(out[mask], t[mask], reduction="sum")), n
    raise ValueError(f"unknown task metric {metric!r}; expected accuracy, mse or log_loss")


BASELINES = {
    "bayes_log_loss": "optimal_log_loss",
    "copy_last_mse": "copy_last_mse",
    "predict_zero_mse": "predict_zero_mse",
    "least_squares_mse": "least_squares_mse",
}


class TestSet:
    """Fixed evaluation batches at one length, drawn once from the task's test seeds.

    Tasks that know a reference predictor (``bayes_log_loss``: the exact Bayes-optimal log loss;
    ``copy_last_mse``, ``predict_zero_mse``, ``least_squares_mse``: the dynamics baselines) get it
    computed on the same batches.
    """

    def __init__(self, task, n: int, seed: int, length: int | None, device):
        self.batches, self.baselines = [], {}
        weights = []
        for i in range(0, n, EVAL_CHUNK):
            b = task.sample(min(EVAL_CHUNK, n - i), seed=seed * 7919 + i, split="test", length=length)
            weights.append(float(b["mask"].sum()))
            for method, name in BASELINES.items():
                if hasattr(task, method):
                    self.baselines[name] = (
                        self.baselines.get(name, 0.0) + getattr(task, method)(b) * weights[-1]
                    )
            self.batches.append({k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in b.items()})
        self.baselines = {k: v / sum(weights) for k, v in self.baselines.items()}

    def evaluate(self, model, metric: str) -> dict[str, float]:
        tot = cnt = 0.0
        with torch.no_grad():
            for b in self.batches:
                s, c = _batch_metrics(model, b, metric)
                tot, cnt = tot + s, cnt + c
        return {metric: tot / max(cnt, 1.0), **self.baselines}


def state_floats(model, task, device) -> int | None:
    """Numbers in the recurrent state after one in-distribution sequence (None without a chunked mode)."""
    if not hasattr(model, "forward_with_state") or not all(
        "chunked" in getattr(b.mixer, "modes", ()) for b in model.blocks
    ):
        return None
    length = None if task.train_lengths is None else max(task.train_lengths)
    x = task.sample(1, seed=0, split="test", length=length)["inputs"].to(device)

    def count(s):
        if isinstance(s, torch.Tensor):
            return s.numel() * (2 if s.is_complex() else 1)
        if isinstance(s, dict):
            return sum(count(v) for v in s.values())
        if isinstance(s, (list, tuple)):
            return sum(count(v) for v in s)
        return 0

    model.eval()
    with torch.no_grad():
        _, st = model.forward_with_state(x)
    model.train()
    return count(st["layers"])


def run_one(
    cfg: RunConfig, *, checkpoint_dir=None, resume: bool = False, device: str = "cpu", progress=False
) -> dict[str, Any]:
    """Fit ``cfg`` and return its result dict (metrics, curves, history, sizes, timing)."""
    if cfg.model == "nmst_pair":  # the NMST claim: two LMs trained and decoded (seqlab.bench.nmst)
        from seqlab.bench.nmst import run_nmst

        return run_nmst(cfg)
    t0, c0 = time.perf_counter(), time.process_time()
    task = build_task(cfg)
    model = build_model(cfg, task).to(device)
    metric = task.metric
    id_sets = [
        TestSet(task, cfg.eval_n // len(id_lengths(task)) or 1, cfg.seed, n, device) for n in id_lengths(task)
    ]

    def eval_fn(m):
        parts = [s.evaluate(m, metric) for s in id_sets]
        return {k: sum(p[k] for p in parts) / len(parts) for k in parts[0]}

    early = (metric, cfg.target) if metric == "accuracy" and cfg.target is not None else None
    seed_base = (cfg.seed * 1_000_003) % 500_000_000

    def batches(step: int):
        return task.sample(cfg.batch_size, seed=seed_base + step, split="train")

    loss_fn = state_init_loss(cfg.state_init, cfg.state_noise)
    if cfg.model == "pointer_network":  # teacher forcing (masking already-chosen positions if pointer_mask)

        def loss_fn(m, b):
            out = m(b["inputs"], b["targets"])
            return masked_loss_from_outputs(out, b), out

    if checkpoint_dir is not None and not resume:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    res = fit(
        model,
        batches,
        loss_fn,
        steps=cfg.steps,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup=min(cfg.warmup, cfg.steps // 5),
        eval_fn=eval_fn,
        eval_every=cfg.eval_every,
        early_stop=early,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=cfg.eval_every if checkpoint_dir is not None else None,
        resume=resume and checkpoint_dir is not None,
        progress=progress,
        seed=cfg.seed,
        device=device,
    )
    model.eval()
    final_id = eval_fn(model)
    lengths = ood_lengths(cfg, task)
    curve = [
        TestSet(task, max(cfg.eval_n // 2, 1), cfg.seed, n, device).evaluate(model, metric) for n in lengths
    ]
    tps = [r["tokens_per_s"] for r in res.history if r.get("tokens_per_s")]
    out = {
        "metric": metric,
        "score": final_id[metric],
        "id": final_id,
        "ood_lengths": lengths,
        "ood": [c[metric] for c in curve],
        "ood_score": sum(c[metric] for c in curve) / len(curve) if curve else None,
        "train_lengths": None
        if task.train_lengths is None
        else [min(task.train_lengths), max(task.train_lengths)],
        "history": res.history,
        "steps_done": res.steps_done,
        "stopped_early": res.stopped_early,
        "final_loss": res.loss,
        "params": sum(p.numel() for p in model.parameters()),
        "state_floats": state_floats(model, task, device),
        "tokens_per_s": sum(tps) / len(tps) if tps else None,
        "wall_time": time.perf_counter() - t0,
        # CPU seconds of this process: on a loaded machine, the single-thread time a quiet one would take
        "cpu_time": time.process_time() - c0,
        "device": str(device),  # the store records it in the row's provenance
    }
    return out
