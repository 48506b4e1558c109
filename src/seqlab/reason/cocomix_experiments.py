"""Experiment cell of the CoCoMix claim: plain next-token pretraining vs CoCoMix on the same text.

``reason.cocomix`` reads SmolLM2's middle-layer signals over the first ``n_tokens`` tokens of the
Lee corpus (:func:`seqlab.reason.cocomix.teacher_signals`, cached), trains a TopK SAE on them
(seeded), selects ``n_select`` concepts per position by attribution, then pretrains two students
from the same initialisation seed for ``steps`` steps on random ``ctx``-token windows of that text:
``plain`` (next-token loss) and ``cocomix`` (plus concept prediction and interleaving). Both are
scored on the ``heldout`` tokens that follow (never trained on), in non-overlapping windows.

The students' vocabulary is the set of SmolLM2 token ids in the training text plus one ``UNK`` (a
held-out token never seen in training); ``unigram`` is the held-out loss of the training-text
unigram distribution (add-one smoothed) -- the trivial model the plain LM must beat.

Returns ``plain`` / ``cocomix``: ``heldout_loss``, ``train_loss`` (last 20 steps); ``unigram``;
``sae_fvu`` (fraction of variance the SAE leaves unexplained) and ``sae_l0`` (mean active latents);
``vocab``; ``train_seconds``.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from seqlab.experiments.cell import experiment
from seqlab.ops.sae import fit_sae
from seqlab.reason.cocomix import CoCoMixLM, attribution, select_concepts, teacher_signals


def compact_vocab(train_ids: torch.Tensor, other: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Re-number the token ids of ``train_ids`` as 1..V-1 (sorted); 0 is UNK (an id of ``other`` never
    seen in training). Returns the two re-numbered tensors and V."""
    vocab = torch.unique(train_ids)
    lookup = torch.zeros(int(max(train_ids.max(), other.max())) + 1, dtype=torch.long)
    lookup[vocab] = torch.arange(1, len(vocab) + 1)
    return lookup[train_ids], lookup[other], len(vocab) + 1


def unigram_loss(train: torch.Tensor, test: torch.Tensor, vocab: int) -> float:
    """Cross-entropy (nats) of ``test`` under the add-one-smoothed unigram distribution of ``train``."""
    counts = torch.bincount(train, minlength=vocab).float() + 1.0
    logp = torch.log(counts / counts.sum())
    return float(-logp[test].mean())


@torch.no_grad()
def heldout_loss(model: CoCoMixLM, ids: torch.Tensor, ctx: int) -> float:
    """Mean next-token cross-entropy over non-overlapping windows of ``ctx + 1`` tokens of ``ids``."""
    model.eval()
    n = (len(ids) - 1) // ctx
    if n < 1:
        raise ValueError(f"held-out text of {len(ids)} tokens is shorter than one window of {ctx + 1}")
    wins = torch.stack([ids[i * ctx : i * ctx + ctx + 1] for i in range(n)])
    logits, _ = model(wins)
    return float(F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), wins[:, 1:].reshape(-1)))


@experiment("reason.cocomix")
def cocomix_cell(params: dict, seed: int) -> dict:
    n_tokens, heldout = params.get("n_tokens", 2048), params.get("heldout", 512)
    sig = teacher_signals(n_tokens, params.get("layer", 15), heldout)
    t0 = time.perf_counter()
    # SmolLM2's residual stream has a few huge coordinates: scale to mean norm sqrt(d) (the gradient
    # with respect to the scaled states is the original gradient times the scale)
    scale = float(sig["acts"].norm(dim=1).mean()) / math.sqrt(sig["acts"].shape[1])
    acts, grads = sig["acts"] / scale, sig["grads"] * scale
    sae, fit = fit_sae(
        acts,
        params.get("n_latents", 256),
        params.get("sae_k", 8),
        steps=params.get("sae_steps", 200),
        batch_size=params.get("sae_batch", 512),
        lr=params.get("sae_lr", 1e-3),
        seed=seed,
    )
    scores = attribution(sae, acts, grads)
    concepts = select_concepts(scores, params.get("n_select", 4))  # (n_tokens, n_select): position t
    l0 = float((sae.encode(acts) > 0).float().sum(-1).mean())
    train, test, vocab = compact_vocab(sig["ids"][: n_tokens + 1], sig["ids"][n_tokens + 1 :])
    ctx, B, steps = params.get("ctx", 64), params.get("batch_size", 16), params["steps"]
    out = {
        "unigram": unigram_loss(train, test, vocab),
        "sae_fvu": fit["fvu"],
        "sae_l0": l0,
        "vocab": vocab,
    }
    for mode in ("plain", "cocomix"):
        torch.manual_seed(seed)
        model = CoCoMixLM(
            vocab,
            sae.n_latents,
            d_model=params.get("d_model", 64),
            n_layers=params.get("n_layers", 2),
            n_heads=params.get("n_heads", 4),
            concept_layer=params.get("concept_layer", 1),
            k=params.get("mix_k", 8),
            mode=mode,
        )
        opt = torch.optim.AdamW(model.parameters(), lr=params.get("lr", 1e-3), weight_decay=0.1)
        g = torch.Generator().manual_seed(seed)
        losses = []
        model.train()
        for _ in range(steps):
            starts = torch.randint(0, n_tokens - ctx, (B,), generator=g)
            idx = starts[:, None] + torch.arange(ctx + 1)
            loss = model.loss(
                train[idx], concepts[idx[:, :-1]] if mode == "cocomix" else None, params.get("lam", 0.1)
            )
            opt.zero_grad()
            loss["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(float(loss["lm"].detach()))
        out[mode] = {"heldout_loss": heldout_loss(model, test, ctx), "train_loss": sum(losses[-20:]) / 20}
    out["train_seconds"] = time.perf_counter() - t0
    out["uniform"] = math.log(vocab)
    return out
