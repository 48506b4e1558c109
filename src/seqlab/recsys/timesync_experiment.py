"""Experiment cell ``recsys.timesync_v2``: TIMeSynC's streams and encoder-decoder on MovieLens-100K.

"TIMeSynC: Temporal Intent Modelling with Synchronized Context Encodings for Financial Service
Applications" (arXiv 2410.12825). One seed trains, on the same split and with the same settings:

- ``single``: :class:`~seqlab.recsys.timesync.TIMeSynC` on the fast stream alone;
- ``sync``: fast + the 15-minute genre windows (round 4's two streams);
- ``three``: fast + genre windows + daily activity;
- ``seq2seq``: :class:`~seqlab.recsys.timesync_decoder.TIMeSynCSeq2Seq` over the three streams,
  decoding the next ``horizon`` intents.

The split (:func:`future_split`) holds out each user's last ``horizon`` ratings as the future
intents; the ratings before them are the training history and the history at evaluation. The
intent of a future item is its genre set; ``hit@k`` is 1 when the top genre predicted for step ``k``
is one of step ``k``'s genres (:func:`~seqlab.recsys.timesync.intent_hits`). One-step models predict
every step with their one intent (repeated). Trivial predictors beside them: the global genre prior
and each user's most frequent history genre (both repeated over the steps).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from seqlab.experiments.cell import experiment
from seqlab.recsys.data import Split
from seqlab.recsys.experiments import load_split
from seqlab.recsys.timesync import genre_matrix, intent_hits
from seqlab.registry import create

TIMESYNC_V2_DEFAULTS = {
    "users": None,
    "horizon": 3,
    "train": {"epochs": 10, "batch_size": 32, "lr": 5e-3, "d_model": 32, "max_len": 50},
}
ARMS = {
    "single": ("timesync", {"streams": "single"}),
    "sync": ("timesync", {"streams": "synchronized"}),
    "three": ("timesync", {"streams": "three"}),
    "seq2seq": ("timesync_seq2seq", {"streams": "three"}),
}


def future_split(split: Split, horizon: int) -> tuple[Split, torch.Tensor, torch.Tensor]:
    """``(train_split, future (users, horizon), future_times)``: each user's last ``horizon`` items of
    train + valid + test are the future; the items before them are ``train_split.train`` (also the
    evaluation history, ``train_split.history("valid")``)."""
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be an int >= 1, got {horizon!r}")
    if split.train_times is None:
        raise ValueError("future_split needs a split with timestamps")
    seqs = [torch.cat([t, v.view(1), s.view(1)]) for t, v, s in zip(split.train, split.valid, split.test)]
    times = [
        torch.cat([t, v.view(1), s.view(1)])
        for t, v, s in zip(split.train_times, split.valid_times, split.test_times, strict=True)
    ]
    short = [u for u, s in enumerate(seqs) if s.numel() < horizon + 2]
    if short:
        raise ValueError(
            f"users {short[:5]} have fewer than horizon + 2 = {horizon + 2} interactions (>= 2 to train on)"
        )
    future = torch.stack([s[-horizon:] for s in seqs])
    future_t = torch.stack([t[-horizon:] for t in times])
    train = Split(
        split.num_items,
        [s[:-horizon] for s in seqs],
        future[:, 0],
        future[:, -1],
        split.item_text,
        [t[:-horizon] for t in times],
        future_t[:, 0],
        future_t[:, -1],
    )
    return train, future, future_t


def step_hits(prob: torch.Tensor, genres: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """``(horizon,)`` hit@1 of each step: ``prob`` (users, horizon, G) against ``future`` (users, horizon)."""
    return torch.stack([intent_hits(prob[:, k], genres, future[:, k]).mean() for k in range(future.shape[1])])


def _record(out: dict, name: str, prob: torch.Tensor, genres: torch.Tensor, future: torch.Tensor) -> None:
    hits = step_hits(prob, genres, future)
    for k, h in enumerate(hits.tolist(), start=1):
        out[f"{name}.hit@1.step{k}"] = h
    out[f"{name}.hit@1"] = float(hits[0])
    out[f"{name}.hit@1.mean"] = float(hits.mean())
    target = genres[future[:, 0]]
    out[f"{name}.bce.step1"] = float(F.binary_cross_entropy(prob[:, 0].clamp(1e-6, 1 - 1e-6), target))


@experiment("recsys.timesync_v2")
def timesync_v2(params: dict, seed: int) -> dict:
    """Per-step intent hit@1 and step-1 binary cross-entropy of the four arms, the prior and the
    user's top genre; train CPU seconds of each arm."""
    torch.set_num_threads(1)
    p = {**TIMESYNC_V2_DEFAULTS, **params}
    K = int(p["horizon"])
    split, future, _ = future_split(load_split("ml-100k", p["users"]), K)
    genres, _ = genre_matrix(split.item_text)
    hist, times = split.history("valid"), split.history_times("valid")
    users = len(hist)
    prior = genres[torch.cat(split.train)].mean(0)
    out = {"users": float(users), "horizon": float(K)}
    _record(out, "prior", prior.expand(users, K, -1), genres, future)
    user_top = torch.stack([genres[h].mean(0) for h in hist])
    _record(out, "user_top", user_top[:, None].expand(-1, K, -1), genres, future)
    for arm, (name, cfg) in ARMS.items():
        kwargs = {**p["train"], **cfg, "seed": seed}
        if name == "timesync_seq2seq":
            kwargs["horizon"] = K
        model = create("recommender", name, **kwargs)
        t0 = time.process_time()
        model.fit(split)
        out[f"{arm}.cpu_seconds"] = time.process_time() - t0
        out[f"{arm}.final_loss"] = float(model.losses[-1])
        if name == "timesync_seq2seq":
            prob = model.intents(hist, times)
        else:
            prob = model.intent(hist, times)[:, None].expand(-1, K, -1)
        _record(out, arm, prob, genres, future)
    return out
