"""Claim of sentence recovery on the real SmolLM2-135M (module decode).

Runs are experiment cells ``decode.recovery_smollm2``
(:func:`seqlab.decode.recovery_smollm2.smollm2_recovery_experiment`): 5 short Lee-corpus sentences per
seed (3..8 SmolLM2 tokens), ``z`` injected as one key/value slot in every attention layer
(``inject="kv"``, arXiv 2008.09049's attention injection), after the start tokens ``<|endoftext|>`` and
a space. Effect, threshold, control and baselines were fixed before any run of the claim's cells; one
development run of seed 0 (the same cell) checked that the experiment runs and its cost, and nothing
was changed after it.
"""

from __future__ import annotations

from seqlab.decode.recovery_smollm2 import SMOLLM2_DEFAULTS
from seqlab.experiments.cell import ExperimentCell
from seqlab.experiments.claim import Baseline, Claim, Control
from seqlab.experiments.stats import mean_interval

SEEDS = (0, 1, 2)
DISCOVER_TITLE = "Discovering Useful Sentence Representations from Large Pretrained Language Models"
DIMS = list(SMOLLM2_DEFAULTS["dims"])
TOP = DIMS[-1]
PARAMS = {"inject": "kv", "dims": DIMS}


def _mean(results, key) -> float:
    return mean_interval([float(r["rec"][key]) for r in results.values()]).mean


def _details(results) -> str:
    curve = ", ".join(f"d'={d}: {_mean(results, f'exact_{d}'):.2f}" for d in DIMS)
    toks = ", ".join(f"{_mean(results, f'token_acc_{d}'):.2f}" for d in DIMS)
    text = f"exact recovery by size of z (kv): {curve}; greedy token accuracy: {toks}"
    first = next(iter(results.values()))["rec"]
    if f"prefix_exact_{TOP}" in first:
        text += (
            f"; input-level prefix at d'={TOP}: exact {_mean(results, f'prefix_exact_{TOP}'):.2f}, "
            f"token accuracy {_mean(results, f'prefix_token_acc_{TOP}'):.2f}"
        )
    return text + f"; sentence pool {int(first['pool'])}"


SENTENCE_RECOVERY_SMOLLM2 = Claim(
    name="sentence_recovery_smollm2",
    title=DISCOVER_TITLE,
    statement="the frozen pretrained SmolLM2-135M regenerates short natural sentences exactly from an "
    "optimised z injected into every layer's attention keys and values",
    effect="representations exist for sentences of several genres and are recovered almost perfectly "
    "without fine-tuning (paper: GPT-2, exact match near 100% with the attention injection)",
    metric=f"exact-recovery rate of 5 Lee-corpus sentences (3-8 tokens) per seed by greedy decoding from z "
    f"of size {TOP} (SmolLM2-135M, z -> one key/value slot in each of 30 layers, 150 Adam steps, lr 0.03)",
    direction="higher",
    threshold=0.9,
    null=0.0,
    control=Control(
        f"exact recovery of 6-token sentences that a random z* of size {TOP} generates",
        0.9,
        lambda r: float(r["rec"][f"control_exact_{TOP}"]),
    ),
    baselines=(
        Baseline("random z (same W)", measure=lambda r: float(r["rec"][f"random_exact_{TOP}"])),
        Baseline(
            "z = 0 (the LM's own greedy sentence)", measure=lambda r: float(r["rec"][f"zero_exact_{TOP}"])
        ),
    ),
    seeds=SEEDS,
    seconds=1136.4,  # measured: summed cpu_time of its 3 cells (one thread each; 405.8 + 362.4 + 368.2)
    make_runs=lambda seed: {"rec": ExperimentCell("decode.recovery_smollm2", dict(PARAMS), seed)},
    measure=lambda r: float(r["rec"][f"exact_{TOP}"]),
    details=_details,
)

CLAIMS = {c.name: c for c in (SENTENCE_RECOVERY_SMOLLM2,)}
