"""The MambaLRP conservation experiment (arXiv 2406.07592) on small trained Mamba classifiers.

Task (seeded): token sequences of ``length`` over ``vocab`` symbols; the label is whether the marker
symbol ``vocab - 1`` occurs anywhere (half the sequences hold it once, at a uniform position), read
at the last position -- the model must carry the marker's trace through its state. A 2-layer
:class:`~seqlab.models.SequenceModel` of Mamba blocks is trained with Adam, then each test sequence's
predicted-class logit is explained by MambaLRP, gradient x input and integrated gradients.

Reported: accuracy (the positive control), the median relative conservation gap of each method
(``|sum of input and bias relevance - logit| / |logit|``; integrated gradients' own completeness is
``sum IG = f(x) - f(0)``), and an input-perturbation curve: tokens are removed (embedding set to
zero) most relevant first, and the mean drop of the logit over the first ``k = 1..length/2`` removals
(AOPC) is compared with a random order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seqlab.experiments.cell import experiment
from seqlab.models import SequenceModel
from seqlab.probe.lrp import integrated_gradients, relevance


def marker_batch(n: int, length: int, vocab: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences of symbols ``0..vocab-2``; half get the marker ``vocab - 1`` at one position."""
    ids = torch.randint(0, vocab - 1, (n, length), generator=gen)
    label = torch.randint(0, 2, (n,), generator=gen)
    where = torch.randint(0, length, (n,), generator=gen)
    rows = torch.nonzero(label).flatten()
    ids[rows, where[rows]] = vocab - 1
    return ids, label


def _aopc(model, e, target, order, k_max):
    """Mean logit drop after removing the first ``k`` tokens of ``order`` (k = 1..k_max), per sequence."""
    with torch.no_grad():
        base = model.forward_embeds(e).logits[torch.arange(len(e)), -1, target]
        drops = []
        x = e.clone()
        for k in range(k_max):
            x[torch.arange(len(e)), order[:, k]] = 0.0
            drops.append(base - model.forward_embeds(x).logits[torch.arange(len(e)), -1, target])
    return torch.stack(drops, 1).mean(1)


@experiment("probe.mamba_lrp")
def mamba_lrp(params: dict, seed: int) -> dict:
    length, vocab = params.get("length", 12), params.get("vocab", 6)
    d_model, steps, n_explain = (
        params.get("d_model", 16),
        params.get("steps", 300),
        params.get("n_explain", 16),
    )
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SequenceModel(
        "mamba",
        d_model=d_model,
        n_layers=2,
        vocab_size=vocab,
        n_outputs=2,
        mlp_ratio=2.0,
        mixer_cfg={"d_state": 8},
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        ids, label = marker_batch(32, length, vocab, gen)
        loss = F.cross_entropy(model(ids)[:, -1], label)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model = model.double().eval()
    ids, label = marker_batch(256, length, vocab, gen)
    with torch.no_grad():
        pred = model(ids)[:, -1].argmax(-1)
    accuracy = float((pred == label).double().mean())

    ids, pred = ids[:n_explain], pred[:n_explain]
    e = model.embed(ids).detach()
    lrp = relevance(model, e, pred, rule="lrp")
    gxi = relevance(model, e, pred, rule="gxi")

    def logit(t):
        return model.forward_embeds(t).logits[torch.arange(len(t)), -1, pred]

    ig = integrated_gradients(logit, e, steps=params.get("ig_steps", 32))
    with torch.no_grad():
        ig_gap = (ig.sum((1, 2)) - (logit(e) - logit(torch.zeros_like(e)))).abs() / logit(e).abs().clamp_min(
            1e-12
        )
    k_max = length // 2
    rand = torch.stack([torch.randperm(length, generator=gen) for _ in range(len(e))])
    aopc = {
        name: float(_aopc(model, e, pred, order, k_max).mean())
        for name, order in (
            ("lrp", lrp.tokens.argsort(1, descending=True)),
            ("gxi", gxi.tokens.argsort(1, descending=True)),
            ("ig", ig.sum(-1).argsort(1, descending=True)),
            ("random", rand),
        )
    }
    return {
        "accuracy": accuracy,
        "gap_lrp": float(lrp.gap().median()),
        "gap_gxi": float(gxi.gap().median()),
        "gap_lrp_inputs_only": float(lrp.gap(with_bias=False).median()),
        "gap_ig": float(ig_gap.median()),
        "aopc_lrp": aopc["lrp"],
        "aopc_gxi": aopc["gxi"],
        "aopc_ig": aopc["ig"],
        "aopc_random": aopc["random"],
    }
