"""The one training loop (:func:`fit`), its checkpoints, default loss and hooks."""

from seqlab.train.callbacks import Callback
from seqlab.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from seqlab.train.loop import FitResult, fit, lr_at
from seqlab.train.losses import masked_accuracy, masked_loss
from seqlab.train.optim import no_weight_decay, param_groups

__all__ = [
    "Callback",
    "FitResult",
    "fit",
    "latest_checkpoint",
    "load_checkpoint",
    "lr_at",
    "masked_accuracy",
    "masked_loss",
    "no_weight_decay",
    "param_groups",
    "save_checkpoint",
]
