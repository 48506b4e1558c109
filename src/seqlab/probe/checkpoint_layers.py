"""How the layer an unsupervised metric picks moves during training (arXiv 2412.09563).

"Does Representation Matter? Exploring Intermediate Layers in Large Language Models" (Skean et al.,
arXiv 2412.09563) tracks its layer metrics over training checkpoints (Pythia) and finds that training
changes the intermediate layers most (prompt entropy falls there as training proceeds). Experiment
``probe.checkpoint_layers`` (seqlab's small version): a character LM (:class:`seqlab.tasks.text.TextLM`,
gensim's Lee corpus) is trained for ``steps`` Adam steps; at ``checkpoints`` evenly spaced steps
(step 0 = the untrained model included) every layer ``l = 0..L`` of ``n_eval`` held-out windows gets

* ``prompt_entropy`` (:func:`seqlab.probe.layers.prompt_entropy`, alpha 1, bits);
* ``lidar`` (:func:`seqlab.probe.view_metrics.view_metrics_of`) over ``views`` versions of each window:
  the window and copies with a fraction ``noise`` of its characters replaced by random ones
  (mean-pooled states);
* ``next_probe``: held-out accuracy of a ridge probe reading the next character from each token's
  state (:func:`next_token_probe`; windows split 60/40) -- the downstream score.

Each checkpoint reports the layer each metric picks among the blocks ``1..L`` (lowest entropy,
highest LiDAR, highest probe accuracy) and the test bits per character.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from seqlab.experiments.cell import experiment
from seqlab.models import SequenceModel
from seqlab.probe.extract import layer_states
from seqlab.probe.layers import pooled, probe_accuracy, prompt_entropy
from seqlab.probe.view_metrics import view_metrics_of
from seqlab.tasks.text import TextLM

CHECKPOINT_DEFAULTS = {
    "mixer": "attention",
    "d_model": 32,
    "n_layers": 4,
    "steps": 300,
    "checkpoints": 4,
    "batch": 32,
    "length": 64,
    "lr": 3e-3,
    "n_eval": 48,
    "views": 3,
    "noise": 0.1,
}


def checkpoint_steps(steps: int, checkpoints: int) -> list[int]:
    """``checkpoints`` evenly spaced steps from 0 (untrained) to ``steps`` (both included)."""
    if steps < 1 or checkpoints < 2:
        raise ValueError(f"need steps >= 1 and checkpoints >= 2, got {steps} and {checkpoints}")
    return sorted({round(i * steps / (checkpoints - 1)) for i in range(checkpoints)})


def next_token_probe(states, inputs: torch.Tensor, targets: torch.Tensor, *, seed: int = 0) -> list[float]:
    """Per layer, held-out accuracy of a ridge probe reading ``targets[b, t]`` from the state at ``(b, t)``.

    Windows are split 60/40 (seeded), so train and test tokens come from different windows.
    """
    B, T = inputs.shape
    if targets.shape != inputs.shape:
        raise ValueError(f"targets must match inputs {tuple(inputs.shape)}, got {tuple(targets.shape)}")
    k = int(round(0.6 * B))
    if k < 1 or k >= B:
        raise ValueError(f"next_token_probe needs >= 2 windows, got {B}")
    perm = torch.randperm(B, generator=torch.Generator().manual_seed(seed))
    idx = (perm[:, None] * T + torch.arange(T)).flatten()
    split = (idx[: k * T], idx[k * T :])
    return [
        probe_accuracy(h.reshape(-1, h.shape[-1]).double(), targets.reshape(-1), split=split, ridge=1.0)
        for h in states
    ]


def noisy_copy(ids: torch.Tensor, vocab: int, p: float, gen: torch.Generator) -> torch.Tensor:
    """``ids`` with each position replaced by a uniformly random symbol with probability ``p``."""
    flip = torch.rand(ids.shape, generator=gen) < p
    return torch.where(flip, torch.randint(0, vocab, ids.shape, generator=gen), ids)


def picks(entropy: list, lidar: list, probe: list) -> dict:
    """The block (1..L) each metric picks: lowest entropy, highest LiDAR, highest probe accuracy."""
    blocks = range(1, len(entropy))
    return {
        "entropy_layer": min(blocks, key=lambda i: entropy[i]),
        "lidar_layer": max(blocks, key=lambda i: lidar[i]),
        "probe_layer": max(blocks, key=lambda i: probe[i]),
    }


def _measure(model, test, vocab: int, p: dict, seed: int) -> dict:
    model.eval()
    with torch.no_grad():
        states = layer_states(model, test["inputs"])
        bits = float(
            F.cross_entropy(model(test["inputs"]).flatten(0, 1), test["targets"].flatten())
        ) / math.log(2)
        gen = torch.Generator().manual_seed(seed * 7919 + 1)
        per_view = [[pooled(h) for h in states]]
        for _ in range(int(p["views"]) - 1):
            noisy = noisy_copy(test["inputs"], vocab, float(p["noise"]), gen)
            per_view.append([pooled(h) for h in layer_states(model, noisy)])
    entropy = [prompt_entropy(h) for h in states]
    lidar = view_metrics_of(per_view, seed)["lidar"]
    probe = next_token_probe(states, test["inputs"], test["targets"], seed=seed)
    model.train()
    return {
        "bits": bits,
        "entropy": entropy,
        "lidar": lidar,
        "next_probe": probe,
        **picks(entropy, lidar, probe),
    }


@experiment("probe.checkpoint_layers")
def checkpoint_layers(params: dict, seed: int) -> dict:
    """Train a character LM, measuring every layer's entropy, LiDAR and next-char probe at checkpoints."""
    p = {**CHECKPOINT_DEFAULTS, **params}
    task = TextLM(train_length=int(p["length"]), test_factors=(1,))
    torch.manual_seed(seed)
    cfg = {"n_heads": 4, "pos": "rope"} if p["mixer"] == "attention" else {}
    model = SequenceModel(
        p["mixer"],
        d_model=int(p["d_model"]),
        n_layers=int(p["n_layers"]),
        vocab_size=task.vocab_size,
        mixer_cfg=cfg,
    )
    test = task.sample(int(p["n_eval"]), seed=seed, split="test", length=int(p["length"]))
    at = checkpoint_steps(int(p["steps"]), int(p["checkpoints"]))
    opt = torch.optim.Adam(model.parameters(), lr=float(p["lr"]))
    rows = []
    for step in range(int(p["steps"]) + 1):
        if step in at:
            rows.append({"step": step, **_measure(model, test, task.vocab_size, p, seed)})
        if step == int(p["steps"]):
            break
        b = task.sample(int(p["batch"]), seed=seed * 100_003 + step, length=int(p["length"]))
        loss = F.cross_entropy(model(b["inputs"]).flatten(0, 1), b["targets"].flatten())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    trained = rows[1:]
    return {
        "checkpoints": rows,
        "entropy_hits": sum(r["entropy_layer"] == r["probe_layer"] for r in trained) / len(trained),
        "lidar_hits": sum(r["lidar_layer"] == r["probe_layer"] for r in trained) / len(trained),
        "final_bits": rows[-1]["bits"],
    }
