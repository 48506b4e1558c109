"""Seeded experiments behind the probe claims (``seqlab.papers.claims_probe``), one per paper.

Each is ``fn(params, seed) -> dict`` (:func:`seqlab.experiments.cell.experiment`); the seed picks the
text subsample or the folds. Texts ship with gensim (``gensim/test/test_data``): sentences of the Lee
background corpus, and the 200 labelled movie-review sentences ``pang_lee_polarity.cor``.

* ``probe.sipit`` -- SipIt on SmolLM2 at one layer: exact-recovery rate of ``n_prompts`` short prompts
  (disjoint per seed), beside the no-model baseline (nearest input embedding to each hidden state) and
  the layer-0 control.
* ``probe.platonic`` -- mutual k-NN alignment of SmolLM2 and MiniLM (mean-pooled) on ``n`` sentences,
  beside the same features with the pairing shuffled, and SmolLM2 with its own next layer (control).
* ``probe.intermediate`` -- nested cross-validated sentiment-probe accuracy with the layer chosen on
  the training folds, minus the last layer's accuracy on the same folds; plus the layer each
  intermediate-layer metric picks.
"""

from __future__ import annotations

import functools
import os
import re
import time

import torch

from seqlab.experiments.cell import experiment
from seqlab.probe.extract import embedding_table, layer_states
from seqlab.probe.invert import fit_linear_inverse, sipit_search
from seqlab.probe.layers import (
    augment,
    augmentation_invariance,
    best_layers,
    curvature,
    pooled,
    probe_accuracy,
    prompt_entropy,
)
from seqlab.probe.similarity import mutual_knn


def _data_file(name: str) -> str:
    from seqlab.tasks.text import gensim_data_dir

    return os.path.join(gensim_data_dir(), name)


def lee_sentences(min_words: int = 6, max_words: int = 30) -> list[str]:
    """Distinct sentences of gensim's Lee background corpus with ``min_words..max_words`` words."""
    with open(_data_file("lee_background.cor"), encoding="utf8") as fh:
        text = fh.read()
    out, seen = [], set()
    for s in re.split(r"(?<=[.!?])\s+", text):
        s = " ".join(s.split())
        if min_words <= len(s.split()) <= max_words and s not in seen:
            seen.add(s)
            out.append(s)
    return out


def polarity() -> tuple[list[str], torch.Tensor]:
    """The 200 movie-review sentences and their labels (1 = positive)."""
    texts, labels = [], []
    with open(_data_file("pang_lee_polarity.cor"), encoding="latin-1") as fh:  # not valid UTF-8
        for line in fh:
            tag, _, text = line.strip().partition(" ")
            if tag not in ("__label__pos", "__label__neg"):
                raise ValueError(f"pang_lee_polarity.cor: unexpected label {tag!r}")
            texts.append(text)
            labels.append(int(tag == "__label__pos"))
    return texts, torch.tensor(labels)


def _subsample(items: list, n: int, seed: int, disjoint: bool = False) -> list:
    """``n`` items: a seeded sample, or (``disjoint``) block ``seed`` of one fixed permutation."""
    perm = torch.randperm(len(items), generator=torch.Generator().manual_seed(12345 if disjoint else seed))
    start = seed * n if disjoint else 0
    if start + n > len(items):
        raise ValueError(f"need {start + n} items for seed {seed}, the corpus has {len(items)}")
    return [items[int(i)] for i in perm[start : start + n]]


def _lm(name: str):
    import seqlab.lm

    return seqlab.lm.load(name)


@experiment("probe.sipit")
def sipit_experiment(params: dict, seed: int) -> dict:
    """SipIt exact-recovery rate on SmolLM2 (params: model, layer, n_prompts, length, max_candidates)."""
    lm = _lm(params.get("model", "smollm2-135m"))
    layer, length = int(params["layer"]), int(params["length"])
    texts = _subsample(lee_sentences(), int(params["n_prompts"]), seed, disjoint=True)
    prompts = []
    for t in texts:
        ids = lm.encode([t]).ids[0]
        prompts.append(ids[:length])
    fit_texts, _ = polarity()
    fit = [lm.encode([t]).ids[0, :16] for t in fit_texts[: int(params.get("fit_prompts", 200))]]
    fit = torch.stack([f for f in fit if len(f) == 16])
    inverse = fit_linear_inverse(lm, layer, fit)
    E = embedding_table(lm)
    n_tok = exact = near = ctl = checked = 0
    t0 = time.perf_counter()
    for ids in prompts:
        hs = layer_states(lm, ids[None])
        res = sipit_search(
            lm,
            hs[layer],
            layer,
            order="linear",
            inverse=inverse,
            batch=int(params.get("batch", 256)),
            max_candidates=params.get("max_candidates"),
        )
        exact += int((res.ids[0] == ids).sum())
        checked += int(res.checked.sum())
        n_tok += len(ids)
        # no-model baseline: the input embedding nearest (cosine) to each hidden state
        sim = torch.nn.functional.cosine_similarity(hs[layer][0][:, None], E[None], dim=-1)
        near += int((sim.argmax(1) == ids).sum())
        c = sipit_search(lm, hs[0], 0, order="scan", batch=4096)
        ctl += int((c.ids[0] == ids).sum())
    secs = time.perf_counter() - t0
    return {
        "recovered": exact / n_tok,
        "nearest_embedding": near / n_tok,
        "layer0_recovered": ctl / n_tok,
        "chance": 1.0 / E.shape[0],
        "tokens": n_tok,
        "prompts": len(prompts),
        "candidates_per_token": checked / n_tok,
        "seconds_per_token": secs / n_tok,
    }


def _pooled_states(
    lm, texts: list[str], batch: int = 32, max_tokens: int | None = None
) -> list[torch.Tensor]:
    """Per layer, the mean-pooled states ``(N, d)`` of ``texts`` (batched by length, in input order).

    ``max_tokens`` keeps the first tokens of each text (the Platonic paper truncates texts too).
    """
    if max_tokens is not None:
        texts = [lm.decode(lm.encode([t]).ids[:, : int(max_tokens)])[0] for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths: little padding
    parts = []
    for i in range(0, len(texts), batch):
        ids, mask = lm.encode([texts[j] for j in order[i : i + batch]])
        parts.append([pooled(h, mask) for h in layer_states(lm, ids, mask)])
    out = [torch.cat([p[layer] for p in parts]) for layer in range(len(parts[0]))]
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    return [h[inverse] for h in out]


@experiment("probe.platonic")
def platonic_experiment(params: dict, seed: int) -> dict:
    """Mutual k-NN of SmolLM2 (layer) and MiniLM (last layer) on ``n`` Lee sentences."""
    n, k, layer = int(params["n"]), int(params["k"]), int(params["layer"])
    texts = _subsample(lee_sentences(), n, seed)
    max_tokens = params.get("max_tokens")
    smol = _pooled_states(_lm("smollm2-135m"), texts, max_tokens=max_tokens)
    mini = _pooled_states(_lm("minilm-l6"), texts, max_tokens=max_tokens)[-1]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))
    return {
        "alignment": mutual_knn(smol[layer], mini, k),
        "shuffled": mutual_knn(smol[layer], mini[perm], k),
        "chance": k / (n - 1),
        "self_next_layer": mutual_knn(smol[layer], smol[layer + 1], k),
        "per_layer": [mutual_knn(h, mini, k) for h in smol],
    }


def _folds(n: int, n_folds: int, seed: int) -> list[torch.Tensor]:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return [perm[i::n_folds] for i in range(n_folds)]


def _cv_accuracy(X, y, folds, ridge) -> float:
    correct = 0
    for i, te in enumerate(folds):
        tr = torch.cat([f for j, f in enumerate(folds) if j != i])
        correct += probe_accuracy(X, y, split=(tr, te), ridge=ridge) * len(te)
    return correct / len(y)


@functools.lru_cache(maxsize=2)
def _polarity_layers(model: str, aug_texts: int):
    """Mean-pooled states per layer of the 200 polarity sentences, and the intermediate-layer metrics.

    Deterministic given its arguments (the claim's seeds change only the folds), so it is computed once
    per process and shared by the seeds. The metrics use the first ``aug_texts`` sentences and one
    fixed augmentation of each.
    """
    lm = _lm(model)
    texts, _ = polarity()
    feats = _pooled_states(lm, texts)
    ids, mask = lm.encode(texts[:aug_texts])
    states = layer_states(lm, ids, mask)
    aug_ids, aug_mask = lm.encode([augment(t, i) for i, t in enumerate(texts[:aug_texts])])
    aug = layer_states(lm, aug_ids, aug_mask)
    metrics = {
        "prompt_entropy": [prompt_entropy(h, mask) for h in states],
        "curvature": [curvature(h, mask) for h in states],
        "augmentation_invariance": [
            augmentation_invariance(a, b, mask, aug_mask) for a, b in zip(states, aug, strict=True)
        ],
    }
    return feats, metrics


@experiment("probe.intermediate")
def intermediate_experiment(params: dict, seed: int) -> dict:
    """Nested-CV sentiment accuracy of the layer picked on training folds vs the last layer (SmolLM2)."""
    _, y = polarity()
    ridge, n_folds = float(params.get("ridge", 10.0)), int(params.get("folds", 5))
    feats, metrics = _polarity_layers(params.get("model", "smollm2-135m"), int(params.get("aug_texts", 64)))
    folds = _folds(len(y), n_folds, seed)
    chosen_correct, picks = 0, []
    for i, te in enumerate(folds):
        inner = [f for j, f in enumerate(folds) if j != i]
        sub = torch.cat(inner)  # the training folds; the layer is chosen by CV inside them only
        remap = {int(v): r for r, v in enumerate(sub)}
        inner_local = [torch.tensor([remap[int(v)] for v in f]) for f in inner]
        scores = [_cv_accuracy(F[sub], y[sub], inner_local, ridge) for F in feats[1:]]
        best = 1 + max(range(len(scores)), key=scores.__getitem__)
        picks.append(best)
        chosen_correct += probe_accuracy(feats[best], y, split=(sub, te), ridge=ridge) * len(te)
    chosen = chosen_correct / len(y)
    per_layer = [_cv_accuracy(F, y, folds, ridge) for F in feats]
    last = per_layer[-1]
    metrics = {**metrics, "probe_accuracy": per_layer}
    return {
        "gain": chosen - last,
        "chosen_accuracy": chosen,
        "last_accuracy": last,
        "best_accuracy": max(per_layer),
        "majority": float(max(y.float().mean(), 1 - y.float().mean())),
        "picked_layers": picks,
        "metric_picks": best_layers(metrics),
        **{f"layers_{k}": v for k, v in metrics.items()},
    }
