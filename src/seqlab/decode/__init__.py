"""Decoding over any seqlab language model: greedy, sampling, beam, diverse beam, trie-constrained beam.

``seqlab.decode.generate(lm, input_ids, method="beam", num_beams=4, max_new_tokens=16)`` works over
the pretrained models of :mod:`seqlab.lm` (through their KV cache) and over
:class:`seqlab.models.SequenceModel` with any mixer (through its recurrent ``step`` state). Every
method is registered as kind ``"decoder"`` (``seqlab list decoders``). See ``docs/decode.md``.
"""

from seqlab.decode import (  # noqa: F401  (register their decoders)
    ariel,
    dbs_experiment,
    nmst_experiment,
    pointer,
    pointer_experiment,
    recovery,
    recovery_smollm2,
    se2,
    se2_retriever,
    seq3,
    waywardness,
    waywardness_smollm2,
)
from seqlab.decode.beam import beam, beam_engine, constrained_beam, diverse_beam
from seqlab.decode.generate import SEQUENCE_METHODS, generate
from seqlab.decode.search import filter_logits, greedy, sample
from seqlab.decode.trie import PrefixTrie

__all__ = [
    "SEQUENCE_METHODS",
    "PrefixTrie",
    "beam",
    "beam_engine",
    "constrained_beam",
    "diverse_beam",
    "filter_logits",
    "generate",
    "greedy",
    "sample",
]
