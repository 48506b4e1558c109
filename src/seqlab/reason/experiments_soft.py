"""Experiment cells of the CCoT, SoftCoT and soft-token claims (docs/reason.md).

Each cell first trains a discrete chain-of-thought model (the teacher / backbone / base policy),
whose accuracy is the positive control, and then the method on top of it, so the control and the
method share one model per seed:

- ``reason.ccot``: teacher (``cot``), then for each ratio ``r`` in ``ratios`` a :class:`CCoT` built
  on a copy of it (``ccot_steps`` contemplation steps, ``decode_steps`` decoder steps); returns
  ``{"cot": row, "ccot": {str(r): row}}``.

- ``reason.softcot``: a frozen backbone (``cot`` model of width ``d_model`` trained
  ``backbone_steps``) and a frozen smaller assistant (width ``assistant_d``, ``assistant_steps``),
  both pretrained with a slot of ``n_thoughts`` placeholders (:class:`Slotted`); rows ``backbone``
  (its own CoT, ``n`` steps, reading its placeholders), ``assistant`` (its own CoT), ``untrained``
  (the initial projection: equals ``backbone``) and ``softcot`` (projection trained ``proj_steps``).

- ``reason.softtokens``: a partly trained CoT model (``base_steps``) fine-tuned with REINFORCE
  (``rl_steps``) on ``hard``, ``soft`` and ``fuzzy`` tokens; for the base and each policy, pass@1
  and pass@k (``pass_k``) under hard and soft decoding.

A row is :func:`seqlab.reason.train.evaluate`'s dict plus ``train_accuracy`` (fresh training-split
questions, never a training batch).
"""

from __future__ import annotations

import copy

import torch

from seqlab.experiments.cell import experiment
from seqlab.reason.base import reasoning_model
from seqlab.reason.ccot import CCoT
from seqlab.reason.discrete import DiscreteCoT
from seqlab.reason.experiments import FRESH_TRAIN_SEED
from seqlab.reason.softcot import Slotted, SoftCoT
from seqlab.reason.softtokens import KINDS, SoftTokens, pass_rates
from seqlab.reason.train import evaluate, fit
from seqlab.registry import create


def _row(reasoner, task, seed, n, **predict_kw) -> dict:
    ev = evaluate(reasoner, task, n=n, seed=seed, **predict_kw)
    held = task.sample(min(n, 128), seed=FRESH_TRAIN_SEED + seed)
    ev["train_accuracy"] = float(
        (reasoner.predict(held, **predict_kw).answer == held["answer"]).float().mean()
    )
    return ev


def trained_cot(params: dict, seed: int, task, steps: int, d_model: int | None = None) -> DiscreteCoT:
    """A discrete-CoT model of the cell's size (or width ``d_model``) trained for ``steps`` steps."""
    torch.manual_seed(seed)
    model = reasoning_model(
        task.vocab_size,
        d_model=d_model or params.get("d_model", 64),
        n_layers=params.get("n_layers", 2),
        n_heads=params.get("n_heads", 4),
    )
    cot = DiscreteCoT(model)
    bs, lr = params.get("batch_size", 32), params.get("lr", 3e-3)
    fit(cot, task, steps=steps, batch_size=bs, lr=lr, seed=seed)
    return cot


@experiment("reason.ccot")
def ccot_cell(params: dict, seed: int) -> dict:
    task = create("task", params["task"], **params.get("task_kw", {}))
    n = params.get("eval_n", 256)
    cot = trained_cot(params, seed, task, params["teacher_steps"])
    out = {"cot": _row(cot, task, seed, n), "ccot": {}}
    for r in params["ratios"]:
        torch.manual_seed(seed)
        ccot = CCoT(copy.deepcopy(cot.model), cot_steps=task.max_trace_len, ratio=r)
        tr = fit(
            ccot,
            task,
            steps=params["ccot_steps"] + params["decode_steps"],
            stage_steps=params["ccot_steps"],
            batch_size=params.get("batch_size", 32),
            lr=params.get("lr", 3e-3),
            seed=seed,
        )
        row = _row(ccot, task, seed, n)
        row["train_loss"] = tr["loss"]
        out["ccot"][str(r)] = row
    return out


@experiment("reason.softcot")
def softcot_cell(params: dict, seed: int) -> dict:
    task = create("task", params["task"], **params.get("task_kw", {}))
    n, m, k = params.get("eval_n", 256), task.max_trace_len, params.get("n_thoughts", 4)
    slotted = Slotted(task, k)  # both models are pretrained with a slot of k placeholders
    backbone = trained_cot(params, seed, slotted, params["backbone_steps"])
    assistant = trained_cot(params, seed, slotted, params["assistant_steps"], d_model=params["assistant_d"])
    out = {
        "backbone": _row(backbone, slotted, seed, n, n_steps=m),
        "assistant": _row(assistant, slotted, seed, n, n_steps=m),
    }
    soft = SoftCoT(backbone.model, assistant.model, n_thoughts=k)
    out["untrained"] = _row(soft, task, seed, n)
    tr = fit(
        soft,
        task,
        steps=params["proj_steps"],
        batch_size=params.get("batch_size", 32),
        lr=params.get("proj_lr", params.get("lr", 3e-3)),
        seed=seed + 7_919,  # projection batches differ from the pretraining batches
    )
    out["softcot"] = _row(soft, task, seed, n) | {"train_loss": tr["loss"]}
    return out


@experiment("reason.softtokens")
def softtokens_cell(params: dict, seed: int) -> dict:
    """A partly trained CoT model (``base_steps``), then REINFORCE for ``rl_steps`` with each token
    kind in ``kinds``; pass@1 / pass@k under hard and soft decoding on ``eval_n`` held-out questions
    (and pass@1 on fresh training-split questions)."""
    task = create("task", params["task"], **params.get("task_kw", {}))
    k, n = params.get("pass_k", 4), params.get("eval_n", 128)
    test = task.sample(n, seed=seed, split="test")
    held = task.sample(min(n, 128), seed=FRESH_TRAIN_SEED + seed)
    base = trained_cot(params, seed, task, params["base_steps"])
    rl = {kw: params[kw] for kw in ("tau", "sigma", "group") if kw in params}

    def rates(policy) -> dict:
        out = {d: pass_rates(policy, test, k, decode=d, seed=seed) for d in ("hard", "soft")}
        out["train_pass1"] = float((policy.predict(held).answer == held["answer"]).float().mean())
        return out

    out = {"base": rates(SoftTokens(copy.deepcopy(base.model), kind="hard", **rl))}
    for kind in params.get("kinds", KINDS):
        torch.manual_seed(seed)
        policy = SoftTokens(copy.deepcopy(base.model), kind=kind, **rl)
        tr = fit(
            policy,
            task,
            steps=params["rl_steps"],
            batch_size=params.get("rl_batch", 16),
            lr=params.get("rl_lr", 1e-3),
            seed=seed + 7_919,
        )
        out[kind] = rates(policy) | {"train_loss": tr["loss"], "final_reward": policy.last_reward}
    return out
