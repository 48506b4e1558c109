"""Backbones assembled from mixers."""

from seqlab.models.pointer import PointerNetwork
from seqlab.models.sequence_model import Block, SequenceModel

__all__ = ["Block", "PointerNetwork", "SequenceModel"]
