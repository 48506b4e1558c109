"""Backbones assembled from mixers."""

from seqlab.models.pointer import PointerNetwork
from seqlab.models.sequence_model import Block, SequenceModel
from seqlab.models.spatiotemporal import SpatialTemporalTransformer

__all__ = ["Block", "PointerNetwork", "SequenceModel", "SpatialTemporalTransformer"]
