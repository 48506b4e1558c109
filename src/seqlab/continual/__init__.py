"""Continual learning: scenarios, strategies, metrics, on real data that ships offline.

Importing the package registers every scenario (kind ``"scenario"``) and strategy (kind ``"strategy"``).
"""

from seqlab.continual import (  # noqa: F401  (imported for registration)
    backbones,
    buffers,
    center_loss,
    data,
    ewc,
    finetune,
    fly_cl,
    hparams,
    icarl,
    if2net,
    joint,
    lwf,
    metrics,
    nmc,
    online_transformer,
    prd,
    recall,
    recall_merge,
    replay,
    scenarios,
    sema,
    si,
    simplex,
    strategy,
)
from seqlab.continual.runner import RunResult, make_strategy, run
from seqlab.continual.scenarios import Stream, permuted_stream, rotated_stream, split_stream
from seqlab.continual.strategy import Strategy, TrainConfig

__all__ = [
    "RunResult",
    "Stream",
    "Strategy",
    "TrainConfig",
    "make_strategy",
    "permuted_stream",
    "rotated_stream",
    "run",
    "split_stream",
]
