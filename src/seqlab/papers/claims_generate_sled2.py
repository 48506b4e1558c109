"""Claim ``sled_energy_transformer``: SLED ("Efficient Speech Language Modeling via Energy Distance in
Continuous Latent Space", arXiv 2505.13181) on a causal-transformer backbone, module generate.

The setup of ``sled_energy`` (:mod:`seqlab.papers.claims_generate`: experiment ``generate.sled_vs_rvq``,
noisy 3-channel sinusoid latents, hidden 48, 300 steps, 8 draws) with the backbone of both models --
SLED and the same-size RVQ-token model -- switched from the 1-layer GRU to a 2-layer causal transformer
(:class:`seqlab.generate.energy.TransformerBackbone`: seqlab's ``SequenceModel`` with causal attention,
4 heads, RoPE). Metric, threshold, control and baselines are those of ``sled_energy``, unchanged; they were
fixed before any run of the transformer cells (no development run).
"""

from __future__ import annotations

import dataclasses

from seqlab.experiments.cell import ExperimentCell
from seqlab.papers.claims_generate import SLED_ENERGY, SLED_PARAMS

TRANSFORMER = {"backbone": "transformer", "n_layers": 2, "n_heads": 4}
SLED_TRANSFORMER_PARAMS = {**SLED_PARAMS, **TRANSFORMER}


def _runs(seed):
    return {"sled": ExperimentCell("generate.sled_vs_rvq", dict(SLED_TRANSFORMER_PARAMS), seed)}


SLED_ENERGY_TRANSFORMER = dataclasses.replace(
    SLED_ENERGY,
    name="sled_energy_transformer",
    statement=SLED_ENERGY.statement + " -- both on a causal transformer backbone, as in the paper",
    metric="held-out next-frame energy score (8 draws, beta 1), SLED / RVQ-token AR (2 levels x 32 codes), "
    "same causal-transformer backbone (2 layers, width 48, 4 heads), noisy sinusoid latents (3 channels, "
    "noise 0.1)",
    seconds=34.8,  # measured: summed cpu_time of its 3 cells (12.5 + 11.2 + 11.1; 2-core CPU, load ~16)
    make_runs=_runs,
)

CLAIMS = {c.name: c for c in (SLED_ENERGY_TRANSFORMER,)}
