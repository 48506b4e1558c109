"""Run one strategy over one stream with :func:`seqlab.train.fit`; record the accuracy matrix.

For each experience ``i``: ``before_experience`` -> ``fit`` (the strategy is the callback and its
``loss``) -> ``after_experience`` -> evaluate every experience's test set, giving row ``R[i, :]``.
Row ``b`` (accuracy of the untrained model) feeds forward transfer. Query/gallery embeddings of the
test data after each experience give the compatibility matrix ``M`` (1-nearest-neighbour retrieval).

Batches are a function of the step (``batches(step)``), so each ``fit`` is reproducible. With
``checkpoint_dir`` the runner saves a checkpoint in seqlab's one format
(:mod:`seqlab.train.checkpoint`: safetensors + self-checked JSON) after every experience, its step
being the number of experiences done: the model, the strategy's state and the retrieval features
as extra tensors, the accuracy rows so far as extra JSON. ``resume=True`` continues from the newest
one and gives the same numbers as an uninterrupted run; a damaged checkpoint raises
:class:`~seqlab.train.checkpoint.CheckpointError` naming the file. Online streams
(``stream.online``) are one pass in batches of ``cfg.online_batch``; each incoming batch is scored
before it is trained on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqlab.continual import metrics
from seqlab.continual.scenarios import Stream
from seqlab.continual.strategy import Strategy, TrainConfig, masked_logits
from seqlab.registry import get
from seqlab.train import Callback, fit
from seqlab.train.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
)


@dataclass
class RunResult:
    R: list[list[float]]
    baseline: list[float]
    summary: dict[str, float]
    compat: list[list[float]] = field(default_factory=list)
    online: list[float] = field(default_factory=list)


def make_strategy(name: str, seed: int = 0, **hp) -> Strategy:
    return get("strategy", name).obj(seed=seed, **hp)


@torch.no_grad()
def accuracy(strategy: Strategy, model, stream: Stream, j: int, n_seen: int, chunk: int = 1000) -> float:
    exp = stream.experiences[j]
    model.eval()
    hits = 0
    for s in range(0, len(exp.y_test), chunk):
        x, y = exp.x_test[s : s + chunk], exp.y_test[s : s + chunk]
        t = torch.full((len(y),), j, dtype=torch.long)
        scores = masked_logits(strategy.predict(model, x, t), stream.active(t, n_seen))
        hits += int((scores.argmax(1) == y).sum())
    model.train()
    return hits / len(exp.y_test)


@torch.no_grad()
def retrieval_accuracy(query, q_labels, gallery, g_labels) -> float:
    """Top-1 accuracy of cosine nearest-neighbour retrieval of query labels from the gallery."""
    q = torch.nn.functional.normalize(query, dim=1)
    g = torch.nn.functional.normalize(gallery, dim=1)
    nn_idx = (q @ g.T).argmax(1)
    return float((g_labels[nn_idx] == q_labels).float().mean())


class Prequential(Callback):
    """Scores every incoming batch before the model trains on it (online evaluation)."""

    def __init__(self, strategy: Strategy):
        self.strategy, self.acc = strategy, []

    def transform_batch(self, model, batch):
        model.eval()
        with torch.no_grad():
            scores = masked_logits(
                self.strategy.predict(model, batch["inputs"], batch["task_id"]), batch["active"]
            )
        model.train()
        self.acc.append(float((scores.argmax(1) == batch["targets"]).float().mean()))
        return batch


def _batches(strategy: Strategy, exp, cfg: TrainConfig, seed: int, online: bool):
    x, y, t = strategy.train_data(exp)
    if online:
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
        steps = math.ceil(len(y) / cfg.online_batch)

        def get(step):
            idx = order[step * cfg.online_batch : (step + 1) * cfg.online_batch]
            return strategy.make_batch(x[idx], y[idx], t[idx])

        return get, steps

    def get(step):
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        idx = torch.randint(len(y), (cfg.batch_size,), generator=g)
        return strategy.make_batch(x[idx], y[idx], t[idx])

    return get, cfg.steps


def _gallery_split(stream: Stream):
    xs, ys = [], []
    for e in stream.experiences:
        xs.append(e.x_test)
        ys.append(e.y_test if stream.scenario != "domain" else e.y_test + 1000 * e.index)
    x, y = torch.cat(xs), torch.cat(ys)
    return x[0::2], y[0::2], x[1::2], y[1::2]


def run(
    strategy: Strategy,
    stream: Stream,
    cfg: TrainConfig | None = None,
    *,
    seed: int = 0,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    compat: bool = True,
) -> RunResult:
    """Train ``strategy`` on ``stream``; ``stop_after=k`` stops after ``k`` experiences (for tests)."""
    cfg = cfg or TrainConfig()
    strategy.setup(stream, cfg)
    torch.manual_seed(seed)
    model = strategy.build_model()
    T = len(stream)
    R: list[list[float]] = []
    feats: list[tuple[torch.Tensor, torch.Tensor]] = []
    online_acc: list[float] = []
    gq, gy, qq, qy = _gallery_split(stream)
    start = 0
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    strategy.n_seen = 1
    baseline = [accuracy(strategy, model, stream, j, j + 1) for j in range(T)]
    if resume and ckpt is not None:
        restored = _load(ckpt, strategy, model)
        if restored is not None:
            start, R, online_acc, feats = restored
    for i in range(start, T):
        exp = stream.experiences[i]
        strategy.n_seen = i + 1
        torch.manual_seed(seed * 7919 + i)  # growth at experience i must not depend on what ran before
        strategy.before_experience(model, exp)
        if strategy.trains:
            batches, steps = _batches(strategy, exp, cfg, seed * 101 + i, stream.online)
            pre = [Prequential(strategy)] if stream.online else []
            fit(
                model,
                batches,
                strategy.loss,
                steps=steps,
                lr=cfg.lr,
                weight_decay=0.0,
                schedule="constant",
                clip=None,
                optimizer="adam",
                callbacks=[*pre, strategy],
                progress=False,
                seed=seed * 101 + i,
            )
            online_acc += pre[0].acc if pre else []
        strategy.after_experience(model, exp)
        R.append([accuracy(strategy, model, stream, j, i + 1) for j in range(T)])
        if compat:
            model.eval()
            with torch.no_grad():
                feats.append((strategy.embed(model, gq), strategy.embed(model, qq)))
            model.train()
        if ckpt is not None:
            _save(ckpt, i + 1, R, online_acc, feats, strategy, model)
        if stop_after is not None and i + 1 >= stop_after:
            break
    done = len(R)
    summary = metrics.summarize(R, baseline[:done]) if done == T else {}
    if done == T and T > 1:  # stability: lowest accuracy on each experience after it was learned
        summary["min_acc"] = metrics.minimum_accuracy(
            [[row[j] for row in R] for j in range(T)], list(range(T))
        )
    M = []
    if compat and feats:
        M = [
            [retrieval_accuracy(feats[i][1], qy, feats[j][0], gy) for j in range(len(feats))]
            for i in range(len(feats))
        ]
        if done == T:
            summary["compat_ac"] = metrics.compatibility_ac(M)
            summary["compat_am"] = metrics.compatibility_am(M)
    if online_acc:
        summary["online_acc"] = metrics.online_accuracy(online_acc)
    return RunResult(R, baseline, summary, M, online_acc)


def _save(directory: Path, done: int, R, online_acc, feats, strategy: Strategy, model) -> None:
    tensors = {f"strategy/{k}": v for k, v in strategy.state().items()}
    for i, (g, q) in enumerate(feats):
        tensors[f"feats/{i}/g"], tensors[f"feats/{i}/q"] = g, q
    extra = {"kind": "continual", "done": done, "R": R, "online": online_acc, "strategy": strategy.name}
    save_checkpoint(directory, done, model, None, [], extra=extra, extra_tensors=tensors)


class _HeldStateDict:
    """Stands in for the model in :func:`load_checkpoint`: keeps the verified state dict for later."""

    state: dict = {}

    def load_state_dict(self, state, strict=True):
        self.state = state


def _load(directory: Path, strategy: Strategy, model):
    """Restore model and strategy from the newest checkpoint in ``directory``; None when there is none."""
    path = latest_checkpoint(directory)
    if path is None:
        return None
    extra = read_checkpoint_meta(path)["extra"]
    if extra.get("kind") != "continual" or not isinstance(extra.get("R"), list):
        raise CheckpointError(f"checkpoint {path} is not a continual-learning checkpoint (extra={extra!r})")
    if extra.get("strategy") != strategy.name:
        raise CheckpointError(
            f"checkpoint {path} belongs to strategy {extra.get('strategy')!r}, not {strategy.name!r}"
        )
    held = _HeldStateDict()  # the strategy may grow the model first (e.g. SEMA's adapters)
    tensors = load_checkpoint(path, held)["extra_tensors"]
    strategy.load_state(model, {k[9:]: v for k, v in tensors.items() if k.startswith("strategy/")})
    try:
        model.load_state_dict(held.state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint {path}: its model tensors do not fit this model ({err})") from err
    done = extra["done"]
    feats = [
        (tensors[f"feats/{i}/g"], tensors[f"feats/{i}/q"]) for i in range(done) if f"feats/{i}/g" in tensors
    ]
    return done, extra["R"], extra["online"], feats
