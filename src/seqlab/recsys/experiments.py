"""The recsys experiment cells and the side-by-side comparison behind ``seqlab recsys``.

:func:`compare` trains each named recommender on MovieLens-100K's leave-one-out split and evaluates
it on the test targets (full ranking, seen items excluded): Recall/NDCG @10/@20 and seconds to train.

Experiment cells (``seqlab.experiments.cell``):

- ``recsys.grid_vs_sasrec`` -- one seed of the claim ``grid_constrained_beam``: popularity, SASRec
  and GRID on the same split; GRID's count of invalid IDs from constrained beam search over all
  test users, and, as the contrast, the invalid-ID rate of *unconstrained* beam search on the first
  ``contrast_users`` users.
- ``recsys.grid_ablation`` -- GRID with one setting changed (levels, collision policy, ID
  construction), for the handbook's ablations.
"""

from __future__ import annotations

import time

import torch

from seqlab.experiments.cell import experiment
from seqlab.recsys.base import evaluate, user_ranks
from seqlab.recsys.data import Split, cold_item_split, leave_one_out, load_ml100k
from seqlab.recsys.metrics import summarize
from seqlab.recsys.unirec import non_uniformity
from seqlab.registry import create

DEFAULTS = {
    "popularity": {},
    "sasrec": {"epochs": 8, "batch_size": 256, "lr": 5e-3, "max_len": 50},
    "gru4rec": {"epochs": 8, "batch_size": 256, "lr": 5e-3, "max_len": 50},
    "dare": {"epochs": 3, "batch_size": 256, "lr": 3e-3, "max_len": 50},
    "grid": {"epochs": 8, "batch_size": 128, "lr": 5e-3},  # chosen on validation targets
    "unirec": {"epochs": 8, "batch_size": 256, "lr": 5e-3, "max_len": 50},  # SASRec's settings
    "timesync": {"epochs": 10, "batch_size": 32, "lr": 5e-3},  # 6 x 128 stalled at the genre prior
    "playlist": {"epochs": 4, "batch_size": 64, "lr": 3e-3},
    "recformer": {"epochs": 1, "batch_size": 64, "lr": 1e-3, "max_steps": 600},
}
DATASETS = ("ml-100k",)


def load_split(dataset: str = "ml-100k", users: int | None = None) -> Split:
    """The leave-one-out split of ``dataset`` (optionally its first ``users`` users)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; available: {', '.join(DATASETS)}")
    split = leave_one_out(load_ml100k())
    if users is not None:
        if not isinstance(users, int) or not 1 <= users <= split.num_users:
            raise ValueError(f"users must be an int in 1..{split.num_users}, got {users!r}")
        split = split.subset(range(users))
    return split


def build(name: str, seed: int = 0, **overrides):
    """Recommender ``name`` with this module's defaults, ``seed`` and ``overrides``."""
    if name not in DEFAULTS:
        raise ValueError(f"unknown recommender {name!r}; choose from {', '.join(DEFAULTS)}")
    cfg = dict(DEFAULTS[name])
    cfg.update(overrides)
    if name != "popularity":
        cfg["seed"] = seed
    return create("recommender", name, **cfg)


def compare(
    models=("popularity", "sasrec", "gru4rec", "grid"),
    dataset: str = "ml-100k",
    seed: int = 0,
    users: int | None = None,
    overrides: dict | None = None,
    log=None,
) -> dict[str, dict]:
    """``{model: {"recall@10", "ndcg@10", "recall@20", "ndcg@20", "train_seconds", "eval_seconds"}}``."""
    split = load_split(dataset, users)
    out = {}
    for name in models:
        model = build(name, seed, **(overrides or {}).get(name, {}))
        model.fit(split)
        t0 = time.perf_counter()
        row = evaluate(model, split)
        row["eval_seconds"] = time.perf_counter() - t0
        out[name] = row
        if log is not None:
            log(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()))
    return out


def table(results: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    head = ["model", "Recall@10", "NDCG@10", "Recall@20", "NDCG@20", "train s"]
    rows = [
        [
            name,
            *(f"{r[k]:.4f}" for k in ("recall@10", "ndcg@10", "recall@20", "ndcg@20")),
            f"{r['train_seconds']:.1f}",
        ]
        for name, r in results.items()
    ]
    return head, rows


def _flat(prefix: str, row: dict) -> dict:
    return {f"{prefix}.{k}": float(v) for k, v in row.items()}


@experiment("recsys.grid_vs_sasrec")
def grid_vs_sasrec(params: dict, seed: int) -> dict:
    """Popularity, SASRec and GRID on ML-100K (one seed); GRID's invalid-ID counts."""
    split = load_split("ml-100k", params.get("users"))
    out = {}
    for name in ("popularity", "sasrec"):
        model = build(name, seed, **params.get(name, {})).fit(split)
        out.update(_flat(name, evaluate(model, split)))
    grid = build("grid", seed, **params.get("grid", {})).fit(split)
    grid.reset_counts()
    out.update(_flat("grid", evaluate(grid, split)))  # top-20 IDs per test user, constrained
    out["grid.emitted_ids"] = float(grid.emitted_ids)
    out["grid.invalid_ids"] = float(grid.invalid_ids)
    hist = split.history()
    n = int(params.get("contrast_users", 50))
    out["grid.unconstrained_invalid_rate"] = grid.invalid_rate(hist[:n], 10)
    out.update({f"grid.sid_{k}": float(v) for k, v in grid.report().items()})
    return out


@experiment("recsys.grid_ablation")
def grid_ablation(params: dict, seed: int) -> dict:
    """GRID with ``params["grid"]`` overriding the defaults (levels, collisions, method, ...)."""
    split = load_split("ml-100k", params.get("users"))
    grid = build("grid", seed, **params.get("grid", {})).fit(split)
    out = _flat("grid", evaluate(grid, split))
    out.update({f"grid.sid_{k}": float(v) for k, v in grid.report().items()})
    return out


def _timed_fit(model, split):
    """Fit and return the process CPU seconds it took (wall seconds are ``model.train_seconds``)."""
    t0 = time.process_time()
    model.fit(split)
    return time.process_time() - t0


def group_metrics(prefix: str, ranks: torch.Tensor, groups: dict[str, torch.Tensor]) -> dict[str, float]:
    """``{prefix.group.metric: value}`` of :func:`summarize` on each boolean user ``group``."""
    out = {}
    for g, mask in groups.items():
        if int(mask.sum()) == 0:
            raise ValueError(f"group {g!r} holds no users")
        out.update({f"{prefix}.{g}.{k}": v for k, v in summarize(ranks[mask]).items()})
    out[f"{prefix}.users"] = float(len(ranks))
    return out


def unirec_groups(split: Split, tail_quantile: float = 0.8) -> dict[str, torch.Tensor]:
    """All users; *non-uniform* users (gap non-uniformity of the training history above the median);
    users whose test target is a *tail* item (training count below the ``tail_quantile`` of counts)."""
    from seqlab.recsys.unirec import UniRec

    u = torch.tensor([non_uniformity(t) for t in split.train_times])
    tail = UniRec.tail_items(split.train_counts(), tail_quantile)
    return {
        "all": torch.ones(len(u), dtype=torch.bool),
        "non_uniform": u > u.median(),
        "tail": tail[split.test],
    }


@experiment("recsys.unirec_vs_sasrec")
def unirec_vs_sasrec(params: dict, seed: int) -> dict:
    """Popularity, SASRec and UniRec on ML-100K (one seed): metrics on all / non-uniform / tail users."""
    split = load_split("ml-100k", params.get("users"))
    groups = unirec_groups(split)
    out = {f"groups.{g}": float(m.sum()) for g, m in groups.items()}
    for name in ("popularity", "sasrec", "unirec"):
        model = build(name, seed, **params.get(name, {}))
        out[f"{name}.cpu_seconds"] = _timed_fit(model, split)
        out[f"{name}.train_seconds"] = float(model.train_seconds)
        out.update(group_metrics(name, user_ranks(model, split), groups))
    return out


@experiment("recsys.recformer_cold")
def recformer_cold(params: dict, seed: int) -> dict:
    """Popularity, SASRec and Recformer trained with a ``cold_fraction`` of items held out of training
    (seeded); metrics on users whose test item is cold (never seen in training) and on the others."""
    split = load_split("ml-100k", params.get("users"))
    split, cold = cold_item_split(split, float(params.get("cold_fraction", 0.2)), seed)
    is_cold = cold[split.test]
    groups = {"all": torch.ones(len(is_cold), dtype=torch.bool), "cold": is_cold, "warm": ~is_cold}
    out = {f"groups.{g}": float(m.sum()) for g, m in groups.items()}
    seen = torch.tensor([float(torch.unique(h).numel()) for h in split.history()])
    for k in (10, 20):  # a uniformly random ranking of the unseen items
        out[f"random.cold.recall@{k}"] = float((k / (split.num_items - seen[is_cold])).clamp(max=1).mean())
    for name in ("popularity", "sasrec", "recformer"):
        model = build(name, seed, **params.get(name, {}))
        out[f"{name}.cpu_seconds"] = _timed_fit(model, split)
        out[f"{name}.train_seconds"] = float(model.train_seconds)
        out.update(group_metrics(name, user_ranks(model, split), groups))
    return out


@experiment("recsys.timesync_intent")
def timesync_intent(params: dict, seed: int) -> dict:
    """Next-intent (genre of the test item) hit@1 of TIMeSynC with synchronized streams and with the
    single fast stream, beside the global genre prior and each user's most frequent history genre."""
    from seqlab.recsys.timesync import genre_matrix, intent_hits

    split = load_split("ml-100k", params.get("users"))
    genres, _ = genre_matrix(split.item_text)
    hist, times = split.history(), split.history_times()
    prior = genres[torch.cat(split.train)].sum(0)
    out = {"prior.hit@1": float(intent_hits(prior.expand(len(hist), -1), genres, split.test).mean())}
    user_top = torch.stack([genres[h].sum(0) for h in hist])
    out["user_top.hit@1"] = float(intent_hits(user_top, genres, split.test).mean())
    for streams in ("synchronized", "single"):
        name = "sync" if streams == "synchronized" else "single"
        model = build("timesync", seed, streams=streams, **params.get("timesync", {}))
        out[f"{name}.cpu_seconds"] = _timed_fit(model, split)
        out[f"{name}.train_seconds"] = float(model.train_seconds)
        p = model.intent(hist, times)
        out[f"{name}.hit@1"] = float(intent_hits(p, genres, split.test).mean())
        out.update({f"{name}.{k}": v for k, v in summarize(user_ranks(model, split)).items()})
    return out


@experiment("recsys.playlist_probes")
def playlist_probes(params: dict, seed: int) -> dict:
    """Seq2seq playlist embeddings on ML-100K (one seed): ridge-probe accuracies (dominant genre,
    popularity and length tertiles, original vs reversed order) for the seq2seq embedding, the bag of
    items and the untrained encoder, each task's majority class, reconstruction accuracy, and
    recommendation by nearest playlist (Recall/NDCG) beside popularity."""
    from seqlab.probe.layers import probe_accuracy
    from seqlab.recsys.playlist import Seq2SeqAutoencoder, embed_sequences, probe_labels
    from seqlab.recsys.timesync import genre_matrix

    split = load_split("ml-100k", params.get("users"))
    model = build("playlist", seed, **params.get("playlist", {}))
    out = {
        "playlist.cpu_seconds": _timed_fit(model, split),
        "playlist.train_seconds": float(model.train_seconds),
    }
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(model.playlists), generator=g)[: int(params.get("probe_playlists", 3000))]
    lists = [model.playlists[i] for i in pick.tolist()]
    labels = probe_labels(lists, genre_matrix(split.item_text)[0], model.counts)
    n = len(lists)
    perm = torch.randperm(n, generator=g)
    tr, te = perm[: int(0.6 * n)], perm[int(0.6 * n) :]
    with torch.random.fork_rng():
        torch.manual_seed(seed + 1000)
        untrained = Seq2SeqAutoencoder(split.num_items + 1, model.d_item, model.d_model).eval()
    reverse = [p.flip(0) for p in lists]
    embeddings = {
        "seq2seq": lambda s: embed_sequences(model.model, s, "seq2seq"),
        "bag": lambda s: embed_sequences(model.model, s, "bag"),
        "untrained": lambda s: embed_sequences(untrained, s, "seq2seq"),
    }
    for kind, fn in embeddings.items():
        X = fn(lists).double()
        for task, y in labels.items():
            out[f"{kind}.{task}"] = probe_accuracy(X, y, split=(tr, te))
        Xo = torch.cat([X, fn(reverse).double()])
        yo = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
        out[f"{kind}.order"] = probe_accuracy(
            Xo, yo, split=(torch.cat([tr, tr + n]), torch.cat([te, te + n]))
        )
    for task, y in labels.items():
        out[f"majority.{task}"] = float((y[te] == torch.bincount(y[tr]).argmax()).double().mean())
    out["majority.order"] = 0.5
    out["playlist.reconstruction"] = model.reconstruction_accuracy(lists)
    flat = torch.cat(lists)
    out["unigram.reconstruction"] = float((flat == model.counts.argmax()).double().mean())
    out.update({f"playlist.{k}": v for k, v in summarize(user_ranks(model, split)).items()})
    out.update({f"popularity.{k}": v for k, v in evaluate(build("popularity").fit(split), split).items()})
    return out
