"""Experiment cells of the sequence-representation claims (``seqlab.papers.claims_embed_seq``).

- ``embed.hvm_compression`` (HVM, arXiv 2410.21332): a nested grammar drawn from the seed, one sequence
  sampled from it; description length (bits) of HVM (with and without variables) against LZ78, zlib and
  the adaptive no-chunk code of the raw atoms; the planted-chunk recall on an easy (disjoint, one-level)
  grammar is the positive control.

Every function builds its data from the seed and returns JSON-ready numbers.
"""

from __future__ import annotations

import random

from seqlab.embed.hvm import HVM, kt_bits, lz78_bits, nested_grammar, zlib_bits
from seqlab.experiments.cell import experiment


def planted_recall(grammar, model: HVM) -> float:
    """Fraction of the grammar's fixed chunks (atom strings) that are chunks of the fitted model."""
    planted = grammar.fixed_chunks()
    learned = {model.flatten(e) for e in model.chunks()}
    return len(planted & learned) / len(planted)


@experiment("embed.hvm_compression")
def hvm_compression(params: dict, seed: int) -> dict:
    nested, easy = dict(params["nested"]), dict(params["easy"])
    length, easy_length = int(params["length"]), int(params["easy_length"])
    hvm_kw = dict(params.get("hvm", {}))
    g = nested_grammar(seed=seed, **nested)
    seq = g.sample(length, random.Random(seed + 1000))
    out: dict = {"length": length}
    for name, variables in (("hvm", True), ("hvm_novar", False)):
        dl = HVM(variables=variables, **hvm_kw).fit(seq).description_length(seq)
        out[name] = dl["total"]
        out[name + "_units"] = dl["n_units"]
        out[name + "_entries"] = dl["n_entries"]
        out[name + "_variables"] = dl["n_variables"]
    out["lz78"] = lz78_bits(seq, g.n_atoms)
    out["zlib"] = zlib_bits(seq)
    out["raw_kt"] = kt_bits(seq, g.n_atoms)
    ge = nested_grammar(seed=seed, **easy)
    easy_seq = ge.sample(easy_length, random.Random(seed + 2000))
    out["easy_recall"] = planted_recall(ge, HVM(**hvm_kw).fit(easy_seq))
    return out
