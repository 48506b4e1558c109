"""seqlab: continuous representations of sequences.

Sequence mixers (state-space, recurrent, attention, continuous convolution), tokenizers,
embeddings, continual learning and probes behind one registry (:mod:`seqlab.registry`).
"""

from seqlab.registry import create, names, register

__version__ = "0.1.0"
__all__ = ["create", "names", "register", "__version__"]
