"""Does LiDAR (or DiME) pick a better layer of SmolLM2 than the last one? (arXiv 2412.09563)

The metrics of :mod:`seqlab.probe.view_metrics` see no labels: per layer, LiDAR over 3 views (the text
and two augmentations) of ``n_texts`` movie-review sentences and DiME between the text and one
augmentation. The layer each picks (largest value, layers 1..L; layer 0 is the embedding lookup) is
then scored by the 5-fold accuracy of a ridge sentiment probe on the 200 polarity sentences (mean-pooled
states), against the last layer's accuracy and the mean over layers (a uniformly random pick). The
seed picks the texts, the augmentations and the folds.
"""

from __future__ import annotations

import functools

import torch

from seqlab.experiments.cell import experiment
from seqlab.probe.view_metrics import view_metrics

VIEW_LAYERS_DEFAULTS = {"model": "smollm2-135m", "n_texts": 32, "views": 3, "folds": 5, "ridge": 10.0}


@functools.lru_cache(maxsize=2)
def _features(model: str):
    from seqlab.probe.experiments import _lm, _pooled_states, polarity

    texts, y = polarity()
    return _pooled_states(_lm(model), texts), y


@experiment("probe.view_layers")
def view_layers(params: dict, seed: int) -> dict:
    from seqlab.probe.experiments import _cv_accuracy, _folds, _lm, _subsample, polarity

    p = {**VIEW_LAYERS_DEFAULTS, **params}
    feats, y = _features(p["model"])
    texts, _ = polarity()
    m = view_metrics(
        _lm(p["model"]), _subsample(texts, int(p["n_texts"]), seed), views=int(p["views"]), seed=seed
    )
    folds = _folds(len(y), int(p["folds"]), seed)
    acc = [_cv_accuracy(F, y, folds, float(p["ridge"])) for F in feats]
    last = acc[-1]

    def pick(vals):
        return 1 + max(range(len(vals) - 1), key=lambda i: vals[i + 1])

    pl, pd = pick(m["lidar"]), pick(m["dime"])
    return {
        "lidar_gain": acc[pl] - last,
        "dime_gain": acc[pd] - last,
        "random_layer_gain": float(torch.tensor(acc[1:]).mean()) - last,
        "best_accuracy": max(acc),
        "last_accuracy": last,
        "lidar_layer": pl,
        "dime_layer": pd,
        "accuracy": acc,
        "lidar": m["lidar"],
        "dime": m["dime"],
    }
