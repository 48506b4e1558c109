"""Experiment cells of the reason claims: one arm (a method on a task) trained and evaluated.

``reason.arm`` (params below) builds the task and a small RoPE-attention :class:`SequenceModel`,
trains one reasoner with :func:`seqlab.reason.train.fit`, and evaluates it on held-out questions
(the task's test seeds). It returns accuracy, discrete tokens and continuous thoughts per answer,
seconds per answer, plus the in-distribution checks the positive controls read:

- ``train_accuracy``: accuracy on fresh training-split questions;
- ``tf_accuracy`` (methods that write language): teacher-forced next-token accuracy over the
  steps, ``EOT`` and the answer of held-out questions, given the gold trace;
- ``frontier`` / ``other`` (``superposition_check``): mean projection of each thought on the
  nodes reachable within ``i`` edges and on the other nodes (:func:`frontier_scores`).

params: ``task`` (name), ``task_kw``, ``method`` (``no_cot``, ``cot``, ``coconut``,
``superposition``, ``pccot``, ``cot2``), ``method_kw``, ``predict_kw``, ``d_model``, ``n_layers``,
``n_heads``, ``steps``, ``batch_size``, ``lr``, ``stage_steps`` (curricula), ``eval_n``.
"""

from __future__ import annotations

import torch

from seqlab.experiments.cell import experiment
from seqlab.reason.base import reasoning_model
from seqlab.reason.coconut import Coconut
from seqlab.reason.cot2 import CoT2
from seqlab.reason.discrete import DiscreteCoT, NoCoT
from seqlab.reason.pccot import PCCoT
from seqlab.reason.superposition import Superposition, frontier_scores
from seqlab.reason.train import evaluate, fit
from seqlab.registry import create

FRESH_TRAIN_SEED = 999_000_000  # fit draws batch seeds seed * 100_003 + step, far below this
METHODS = ("no_cot", "cot", "coconut", "superposition", "pccot", "cot2")


def build_reasoner(method: str, model, steps: int, method_kw: dict):
    """A reasoner of ``method`` around ``model`` for traces of ``steps`` steps."""
    kw = dict(method_kw)
    if method == "no_cot":
        return NoCoT(model)
    if method == "cot":
        return DiscreteCoT(model)
    if method == "coconut":
        return Coconut(model, cot_steps=steps, **kw)
    if method == "superposition":
        return Superposition(model, depth=steps, **kw)
    if method == "pccot":
        return PCCoT(model, n_thoughts=kw.pop("n_thoughts", steps), **kw)
    if method == "cot2":
        return CoT2(model)
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


@torch.no_grad()
def teacher_forced_accuracy(reasoner, batch) -> float:
    """Next-token accuracy over the steps, EOT and answer given the gold prefix (discrete methods)."""
    model = reasoner.model
    logits = model.forward_embeds(model.input_embeddings(batch["inputs"])).logits
    m = batch["mask"]
    return float((logits.argmax(-1)[m] == batch["targets"][m]).float().mean())


@experiment("reason.arm")
def arm(params: dict, seed: int) -> dict:
    task = create("task", params["task"], **params.get("task_kw", {}))
    method = params["method"]
    torch.manual_seed(seed)
    model = reasoning_model(
        task.vocab_size,
        d_model=params.get("d_model", 64),
        n_layers=params.get("n_layers", 2),
        n_heads=params.get("n_heads", 4),
    )
    reasoner = build_reasoner(method, model, task.max_trace_len, params.get("method_kw", {}))
    stage_steps = params.get("stage_steps") if reasoner.n_stages else None
    tr = fit(
        reasoner,
        task,
        steps=params["steps"],
        batch_size=params.get("batch_size", 32),
        lr=params.get("lr", 1e-3),
        seed=seed,
        stage_steps=stage_steps,
    )
    n = params.get("eval_n", 256)
    pk = params.get("predict_kw", {})
    ev = evaluate(reasoner, task, n=n, seed=seed, **pk)
    held = task.sample(min(n, 128), seed=FRESH_TRAIN_SEED + seed)  # training split, never a training batch
    train_acc = float((reasoner.predict(held, **pk).answer == held["answer"]).float().mean())
    out = {**ev, "train_accuracy": train_acc, "train_loss": tr["loss"], "train_seconds": tr["train_seconds"]}
    if method == "cot":
        out["tf_accuracy"] = teacher_forced_accuracy(
            reasoner, task.sample(min(n, 128), seed=seed, split="test")
        )
    if params.get("superposition_check"):
        scores = frontier_scores(reasoner, task, task.sample(64, seed=seed + 1, split="test"))
        out["frontier"] = [s["frontier"] for s in scores]
        out["other"] = [s["other"] for s in scores]
    return out
