"""The strategy interface: a :class:`~seqlab.train.callbacks.Callback` plus experience-level hooks.

A strategy plugs into :func:`seqlab.train.fit` through the callback hooks (``transform_batch`` for
replay, ``extra_loss`` for penalties and distillation, ``after_backward``/``after_step`` for
importance accumulation) and adds four experience-level hooks the continual runner calls:

- ``build_model(stream, cfg)``: the network (default: the 2x400 MLP over ``stream.n_outputs`` units);
- ``before_experience(model, exp)`` / ``after_experience(model, exp)``: snapshot, consolidate, store;
- ``train_data(exp)``: what the loop samples from (joint training returns everything seen so far);
- ``predict(model, x, task_ids)``: scores over output units (nearest-mean methods override it).

Strategies that do not learn by gradient descent (nearest-mean, Fly-CL, IF2Net) set ``trains = False``
and do their work in ``after_experience``. The task loss is cross-entropy over the *active* units of
each example (:meth:`seqlab.continual.scenarios.Stream.active`): the task's own units in task-IL,
all units in domain-IL, the classes seen so far in class-IL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from seqlab.continual.backbones import MLP, SequenceClassifier
from seqlab.continual.scenarios import SCENARIOS, Experience, Stream
from seqlab.train.callbacks import Callback

NEG = -1e9


@dataclass
class TrainConfig:
    """Training budget shared by all strategies of a protocol (van de Ven & Tolias used Adam 1e-3,
    batch 128, 2x400 MLP, 2,000 iterations per task on full MNIST)."""

    steps: int = 50
    batch_size: int = 128
    lr: float = 1e-3
    hidden: int = 400
    online_batch: int = 10


def masked_logits(logits: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    return logits.masked_fill(~active, NEG)


def distillation(student: torch.Tensor, teacher: torch.Tensor, active: torch.Tensor, T: float = 2.0):
    """KL(teacher || student) at temperature ``T`` over the active units, scaled by ``T^2``."""
    s = F.log_softmax(masked_logits(student, active) / T, dim=1)
    t = F.softmax(masked_logits(teacher, active) / T, dim=1)
    return F.kl_div(s, t, reduction="batchmean") * T * T


class Strategy(Callback):
    """Base: plain fine-tuning. Subclasses override what their method changes."""

    name = "finetune"
    trains = True
    vector_only = False  # True when the strategy builds its own vector backbone
    unsupported: dict[str, str] = {}  # scenario -> why this strategy refuses it

    def __init__(self, seed: int = 0, **unknown: Any):
        if unknown:
            raise ValueError(f"strategy {self.name!r} got unknown options {sorted(unknown)}")
        self.seed = seed
        self.stream: Stream | None = None
        self.n_seen = 0
        self.cfg = TrainConfig()

    # -- setup ---------------------------------------------------------------------------------
    @classmethod
    def check_scenario(cls, scenario: str) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")
        if scenario in cls.unsupported:
            raise ValueError(
                f"strategy {cls.name!r} does not support {scenario}-incremental learning: "
                f"{cls.unsupported[scenario]}"
            )

    def setup(self, stream: Stream, cfg: TrainConfig) -> None:
        self.check_scenario(stream.scenario)
        if self.vector_only and stream.info.get("vocab_size"):
            raise ValueError(
                f"strategy {self.name!r} needs vector inputs (its backbone is an MLP or a frozen image "
                f"encoder), but stream {stream.name!r} holds token sequences"
            )
        self.stream, self.cfg = stream, cfg

    def build_model(self) -> torch.nn.Module:
        vocab = self.stream.info.get("vocab_size")
        if vocab:  # token sequences: a seqlab SequenceModel read at the last position
            return SequenceClassifier(vocab, self.stream.n_outputs, self.stream.info.get("mixer", "lstm"))
        return MLP(self.stream.input_dim, self.stream.n_outputs, hidden=self.cfg.hidden)

    # -- experience hooks ----------------------------------------------------------------------
    def before_experience(self, model, exp: Experience) -> None:
        pass

    def after_experience(self, model, exp: Experience) -> None:
        pass

    def train_data(self, exp: Experience):
        return exp.x_train, exp.y_train, exp.t_train

    def make_batch(self, x, y, t) -> dict[str, torch.Tensor]:
        return {"inputs": x, "targets": y, "task_id": t, "active": self.stream.active(t, self.n_seen)}

    # -- training ------------------------------------------------------------------------------
    def loss(self, model, batch):
        logits = model(batch["inputs"])
        return F.cross_entropy(masked_logits(logits, batch["active"]), batch["targets"]), logits

    # -- evaluation ----------------------------------------------------------------------------
    def predict(self, model, x: torch.Tensor, task_ids: torch.Tensor) -> torch.Tensor:
        return model(x)

    def embed(self, model, x: torch.Tensor) -> torch.Tensor:
        return model.features(x)

    # -- checkpoint state (tensors only) --------------------------------------------------------
    def state(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state(self, model, state: dict[str, torch.Tensor]) -> None:
        pass


def params(model) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}
