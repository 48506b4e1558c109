"""Concatenated seeded runs vs one wider run under a shift (arXiv 2212.07346), on small GRU models.

Per seed: ``K`` GRU sequence classifiers of width ``d`` (independent initialisations and data orders) and
one of width ``K * d`` are trained on the *source* distribution of :func:`redundant_bigrams` (label = both
cues). Their frozen representations (final state at the last position) are probed by ridge classifiers on
the *shifted* distribution (cues independent) for each cue as the target, ``n_probe`` examples to fit and
``n_test`` to score. Reported (mean target accuracy over the two cues): ``concat`` (the K runs
concatenated, ``K * d`` features), ``wide`` (one run, ``K * d`` features), ``single`` (the first run,
``d``), ``random_concat`` (K untrained models concatenated); ``gain = concat - wide``; per-cue accuracies
and the models' source accuracies (``min_source_accuracy``: the positive control).
"""

from __future__ import annotations

import torch

from seqlab.experiments.cell import experiment
from seqlab.probe.concat_runs import concat_features, redundant_bigrams, sequence_features
from seqlab.probe.layers import probe_accuracy

CONCAT_DEFAULTS = {
    "k": 4,
    "d": 16,
    "vocab": 12,
    "length": 24,
    "steps": 400,
    "batch": 64,
    "lr": 0.01,
    "n_probe": 512,
    "n_test": 1024,
    "ridge": 1.0,
}


def _model(d: int, vocab: int, seed: int):
    from seqlab.models import SequenceModel

    torch.manual_seed(seed)
    return SequenceModel(mixer="gru", d_model=d, n_layers=1, vocab_size=vocab, n_outputs=2)


def train_source(model, p: dict, seed: int):
    """Adam on fresh source batches (label = both cues), cross-entropy at the last position."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=p["lr"])
    model.train()
    for _ in range(p["steps"]):
        x, y, _ = redundant_bigrams(p["batch"], p["length"], p["vocab"], gen, correlated=True)
        loss = torch.nn.functional.cross_entropy(model(x)[:, -1], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def shift_probe(features, cues: dict[str, torch.Tensor], n_probe: int, ridge: float) -> dict[str, float]:
    """Ridge-probe test accuracy of ``features`` for each target cue (first ``n_probe`` rows fit)."""
    n = features.shape[0]
    split = (torch.arange(n_probe), torch.arange(n_probe, n))
    return {name: probe_accuracy(features.double(), y, ridge=ridge, split=split) for name, y in cues.items()}


def concat_shift_of(p: dict, seed: int) -> dict:
    k, d = p["k"], p["d"]
    base = 1000 * seed
    runs = [train_source(_model(d, p["vocab"], base + i), p, base + 100 + i) for i in range(k)]
    wide = train_source(_model(k * d, p["vocab"], base + 50), p, base + 150)
    untrained = [_model(d, p["vocab"], base + 200 + i).eval() for i in range(k)]
    gen = torch.Generator().manual_seed(base + 999)
    xs, ys, _ = redundant_bigrams(p["n_test"], p["length"], p["vocab"], gen, correlated=True)
    with torch.no_grad():
        source = [float((m(xs)[:, -1].argmax(-1) == ys).double().mean()) for m in [*runs, wide]]
    x, easy, bigram = redundant_bigrams(
        p["n_probe"] + p["n_test"], p["length"], p["vocab"], gen, correlated=False
    )
    cues = {"easy": easy, "bigram": bigram}
    feats = {
        "concat": concat_features(runs, x),
        "wide": sequence_features(wide, x),
        "single": sequence_features(runs[0], x),
        "random_concat": concat_features(untrained, x),
    }
    acc = {name: shift_probe(f, cues, p["n_probe"], p["ridge"]) for name, f in feats.items()}
    out = {name: sum(a.values()) / len(a) for name, a in acc.items()}
    out.update({f"{name}_{cue}": v for name, a in acc.items() for cue, v in a.items()})
    out["gain"] = out["concat"] - out["wide"]
    out["single_gain"] = out["single"] - out["wide"]
    out["random_gain"] = out["random_concat"] - out["wide"]
    out["min_source_accuracy"] = min(source)
    out["source_accuracy"] = source
    return out


@experiment("probe.concat_shift")
def concat_shift(params: dict, seed: int) -> dict:
    return concat_shift_of({**CONCAT_DEFAULTS, **params}, seed)
