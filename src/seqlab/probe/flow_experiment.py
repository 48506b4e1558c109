"""Representation flow in a trained SSM stack vs a transformer of equal size (arXiv 2510.06640).

"A Comparative Analysis of Contextual Representation Flow in State-Space and Transformer
Architectures" (Hoang et al., arXiv 2510.06640): transformers homogenise the tokens of a sequence
early (high token-token cosine similarity in their first layers) and recover diversity late, while
SSMs keep tokens distinct early and homogenise deeper; parameter randomisation ties the transformer's
behaviour to its architecture and the SSM's to training.

Experiment ``probe.flow`` (seqlab's version, small models): a Mamba stack and an attention stack
(RoPE, so that the input layer of both is the bare token embedding) with the same width and depth
are trained as character LMs on gensim's Lee corpus (:class:`seqlab.tasks.text.TextLM`, the same
batches for both). On held-out windows, :func:`seqlab.probe.layers.layer_flow` gives per layer the
mean token similarity within a window, the CKA and stability between consecutive layers. Reported:
``early_gap``, the transformer's minus the SSM's token similarity averaged over the first half of
the blocks (layers ``1..L/2``); the same at layer 0 (embeddings only); the same for the untrained
models (parameter randomisation); each model's test bits per character and the unigram entropy.
With ``probe_lag = k``, also the per-layer accuracy of a ridge linear probe that reads the character
``k`` steps back from each token's state (:func:`context_probe`): how much context each layer holds.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from seqlab.experiments.cell import experiment
from seqlab.models import SequenceModel
from seqlab.probe.extract import layer_states
from seqlab.probe.layers import layer_flow, probe_accuracy
from seqlab.tasks.text import TextLM


def flow_models(d_model: int, n_layers: int, vocab: int, seed: int) -> dict[str, SequenceModel]:
    """A Mamba stack and an attention (RoPE) stack of the same width and depth, seeded."""
    torch.manual_seed(seed)
    ssm = SequenceModel(
        "mamba", d_model=d_model, n_layers=n_layers, vocab_size=vocab, mixer_cfg={"d_state": 8}
    )
    torch.manual_seed(seed)
    tbm = SequenceModel(
        "attention",
        d_model=d_model,
        n_layers=n_layers,
        vocab_size=vocab,
        mixer_cfg={"n_heads": 4, "pos": "rope"},
    )
    return {"ssm": ssm, "transformer": tbm}


def _bits_per_char(model, batch) -> float:
    with torch.no_grad():
        logits = model(batch["inputs"])
        return float(F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten())) / math.log(2)


def early_gap(sim_tbm: list, sim_ssm: list) -> float:
    """Mean over blocks ``1..L/2`` of the transformer's minus the SSM's token similarity.

    Index 0 of each curve is the embeddings, index ``l`` the output of block ``l``."""
    if len(sim_tbm) != len(sim_ssm) or len(sim_tbm) < 3:
        raise ValueError(
            f"need two curves of the same length >= 3 (embeddings + 2 blocks), got "
            f"{len(sim_tbm)} and {len(sim_ssm)}"
        )
    half = (len(sim_tbm) - 1) // 2
    return sum(a - b for a, b in zip(sim_tbm[1 : half + 1], sim_ssm[1 : half + 1], strict=True)) / half


def context_probe(states, ids: torch.Tensor, lag: int, *, seed: int = 0) -> list[float]:
    """Per layer, held-out accuracy of a ridge probe reading ``ids[:, t - lag]`` from the state at ``t``.

    ``states``: ``(B, T, d)`` per layer; windows are split 60/40 (seeded) so train and test tokens come
    from different windows.
    """
    B, T = ids.shape
    if not isinstance(lag, int) or not 0 <= lag < T:
        raise ValueError(f"lag must be an int in [0, {T}), got {lag!r}")
    perm = torch.randperm(B, generator=torch.Generator().manual_seed(seed))
    k = int(round(0.6 * B))
    if k < 1 or k >= B:
        raise ValueError(f"context_probe needs >= 2 windows, got {B}")
    n = T - lag
    idx = (perm[:, None] * n + torch.arange(n)).flatten()  # rows of the flattened (window, t) grid
    split = (idx[: k * n], idx[k * n :])
    labels = ids[:, : T - lag].reshape(-1)
    return [
        probe_accuracy(h[:, lag:].reshape(-1, h.shape[-1]).double(), labels, split=split, ridge=1.0)
        for h in states
    ]


@experiment("probe.flow")
def flow_experiment(params: dict, seed: int) -> dict:
    """Train both stacks as character LMs, then compare their layer-wise flow on held-out windows.

    params: ``d_model``, ``n_layers``, ``steps``, ``batch``, ``length``, ``lr``, ``n_eval``.
    """
    d, L = int(params.get("d_model", 32)), int(params.get("n_layers", 4))
    steps, batch, length = int(params["steps"]), int(params.get("batch", 32)), int(params.get("length", 64))
    task = TextLM(train_length=length, test_factors=(1,))
    models = flow_models(d, L, task.vocab_size, seed)
    test = task.sample(int(params.get("n_eval", 64)), seed=seed, split="test", length=length)
    out: dict = {}
    with torch.no_grad():
        untrained = {k: layer_flow(layer_states(m.eval(), test["inputs"])) for k, m in models.items()}
    out["untrained_early_gap"] = early_gap(
        untrained["transformer"]["token_similarity"], untrained["ssm"]["token_similarity"]
    )
    opts = {k: torch.optim.Adam(m.parameters(), lr=float(params.get("lr", 3e-3))) for k, m in models.items()}
    for m in models.values():
        m.train()
    for step in range(steps):
        b = task.sample(batch, seed=seed * 100_003 + step, length=length)
        for k, m in models.items():
            loss = F.cross_entropy(m(b["inputs"]).flatten(0, 1), b["targets"].flatten())
            opts[k].zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opts[k].step()
    counts = torch.bincount(task._splits["train"], minlength=task.vocab_size).double()
    p = counts / counts.sum()
    out["unigram_bits"] = float(-(p[p > 0] * p[p > 0].log2()).sum())
    for k, m in models.items():
        m.eval()
        out[f"{k}_bits"] = _bits_per_char(m, test)
        with torch.no_grad():
            states = layer_states(m, test["inputs"])
            flow = layer_flow(states)
        for key, vals in flow.items():
            out[f"{k}_{key}"] = vals
        if params.get("probe_lag") is not None:
            out[f"{k}_context_probe"] = context_probe(
                states, test["inputs"], int(params["probe_lag"]), seed=seed
            )
        out[f"untrained_{k}_token_similarity"] = untrained[k]["token_similarity"]
    out["early_gap"] = early_gap(out["transformer_token_similarity"], out["ssm_token_similarity"])
    out["embedding_gap"] = out["transformer_token_similarity"][0] - out["ssm_token_similarity"][0]
    out["worst_bits_ratio"] = max(out["ssm_bits"], out["transformer_bits"]) / out["unigram_bits"]
    return out
