"""Backbones assembled from mixers."""

from seqlab.models.nmst import NMSTLanguageModel
from seqlab.models.pointer import PointerNetwork
from seqlab.models.sequence_model import Block, SequenceModel
from seqlab.models.spatiotemporal import SpatialTemporalTransformer

__all__ = ["Block", "NMSTLanguageModel", "PointerNetwork", "SequenceModel", "SpatialTemporalTransformer"]
