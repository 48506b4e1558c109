"""Experience replay with a class-balanced or reservoir buffer.

Exact replay as in "Three scenarios for continual learning" (arXiv 1904.07734), with a bounded memory:
every training batch ``B`` is joined by an equally large batch ``B_mem`` drawn from the buffer,
``L = CE(B u B_mem)`` (each example classified over its own active units). The buffer is filled at the
end of each experience (class-balanced: ``budget / n_classes`` per class) or, in the online setting,
with every incoming batch (reservoir sampling keeps a uniform sample of the stream).
"""

from __future__ import annotations

import torch

from seqlab.continual.buffers import ClassBalancedBuffer, ReservoirBuffer
from seqlab.continual.scenarios import THREE
from seqlab.continual.strategy import Strategy
from seqlab.registry import Paper, register

ONLINE_EVAL = "A Comprehensive Empirical Evaluation on Online Continual Learning"


def concat_batches(a: dict, b: dict) -> dict:
    return {k: torch.cat([a[k], b[k]]) for k in ("inputs", "targets", "task_id", "active")}


@register(
    "strategy",
    "replay",
    implements=Paper(THREE, "1904.07734"),
    used_by=[THREE, ONLINE_EVAL],
    scenarios=("task", "domain", "class"),
    family="replay",
    buffer="class-balanced",
)
class Replay(Strategy):
    """Experience replay from a class-balanced buffer of ``budget`` examples."""

    name = "replay"
    reservoir = False

    def __init__(self, seed: int = 0, budget: int = 200, replay_batch: int | None = None, **kw):
        super().__init__(seed, **kw)
        self.budget, self.replay_batch = budget, replay_batch
        self.buffer = None

    def setup(self, stream, cfg):
        super().setup(stream, cfg)
        self.buffer = (
            ReservoirBuffer(self.budget, self.seed)
            if self.reservoir
            else ClassBalancedBuffer(self.budget, self.seed, by_task=stream.scenario == "domain")
        )

    def transform_batch(self, model, batch):
        out = batch
        if len(self.buffer):
            x, y, t = self.buffer.sample(self.replay_batch or len(batch["targets"]))
            out = concat_batches(batch, self.make_batch(x, y, t))
        if self.stream.online:
            self.buffer.add(batch["inputs"], batch["targets"], batch["task_id"])
        return out

    def after_experience(self, model, exp):
        super().after_experience(model, exp)
        if not self.stream.online:
            self.store(model, exp)

    def store(self, model, exp):
        self.buffer.add(exp.x_train, exp.y_train, exp.t_train)

    def state(self):
        return {**super().state(), **{f"buffer/{k}": v for k, v in self.buffer.state().items()}}

    def load_state(self, model, state):
        super().load_state(model, state)
        self.buffer.load({k[7:]: v for k, v in state.items() if k.startswith("buffer/")})


@register(
    "strategy",
    "replay_reservoir",
    implements=Paper("On Tiny Episodic Memories in Continual Learning", "1902.10486"),
    used_by=[ONLINE_EVAL],
    scenarios=("task", "domain", "class"),
    family="replay",
    buffer="reservoir",
)
class ReservoirReplay(Replay):
    """Experience replay from a reservoir-sampled buffer of ``budget`` examples."""

    name = "replay_reservoir"
    reservoir = True

    def store(self, model, exp):
        order = torch.randperm(len(exp.y_train), generator=self.buffer.gen)
        self.buffer.add(exp.x_train[order], exp.y_train[order], exp.t_train[order])
