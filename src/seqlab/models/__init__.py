"""Backbones assembled from mixers."""

from seqlab.models.sequence_model import Block, SequenceModel

__all__ = ["Block", "SequenceModel"]
