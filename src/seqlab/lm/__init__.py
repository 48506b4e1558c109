"""Pretrained language models that load offline, behind one small interface.

``seqlab.lm.load("smollm2-135m")`` (causal, LLaMA) or ``load("minilm-l6")`` (BERT encoder);
:class:`LanguageModel` is the interface, also implemented by :class:`seqlab.models.SequenceModel`.
See ``docs/lm.md``.
"""

from seqlab.lm.interface import Encoded, LanguageModel, LMOutput, check_embeds, check_ids
from seqlab.lm.models import load, names
from seqlab.lm.weights_cache import cache_root, cached_dir

__all__ = [
    "Encoded",
    "LMOutput",
    "LanguageModel",
    "cache_root",
    "cached_dir",
    "check_embeds",
    "check_ids",
    "load",
    "names",
]
