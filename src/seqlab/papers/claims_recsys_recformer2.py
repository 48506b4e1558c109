"""Claim of Recformer (arXiv 2305.13731), module recsys: its learning framework vs the earlier Recformer.

Each seed is one ``recsys.recformer_pretraining`` experiment cell
(:mod:`seqlab.recsys.recformer_experiment`): on the cold-item split of ``recformer_cold_start`` (20% of
the items, seeded, never in training), the earlier Recformer (causal, summary token last, in-batch
contrastive loss) and the paper's framework (bidirectional ``[CLS]`` encoder, MLM + item-item
contrastive pre-training, two-stage fine-tuning) trained for the same 600 optimiser steps, beside the
paper's "w/o pre-training" ablation, popularity and a random ranking. Threshold, control and baselines
were fixed after one reduced development run of seed 0 (300 steps) and before the 3-seed run; the run
was then cut from 1,200 to 600 steps (and the bidirectional-in-batch arm left out) before any 3-seed
result existed, for lack of CPU time on the shared machine. ``seconds`` is the measured single-thread
cpu time of its cells.
"""

from __future__ import annotations

from seqlab.experiments.cell import ExperimentCell
from seqlab.experiments.claim import Baseline, Claim, Control
from seqlab.experiments.stats import mean_interval

SEEDS = (0, 1, 2)
RECFORMER_TITLE = "Text Is All You Need: Learning Language Representations for Sequential Recommendation"
PARAMS: dict = {}  # the cell's defaults: cold_fraction 0.2, 600 steps, table refreshed every 50
ARMS = ("current", "paper", "no_pretrain")


def _runs(seed: int) -> dict:
    return {"cell": ExperimentCell("recsys.recformer_pretraining", dict(PARAMS), seed)}


def _r(results, key: str) -> float:
    return float(results["cell"][key])


def _over_current(model: str, group: str = "all"):
    return lambda r: _r(r, f"{model}.{group}.recall@20") / max(_r(r, f"current.{group}.recall@20"), 1e-12)


def _details(res) -> str:
    def iv(f, digits=4):
        i = mean_interval([float(f(r)) for r in res.values()])
        return f"{i.mean:.{digits}f} [{i.low:.{digits}f}, {i.high:.{digits}f}]"

    parts = []
    for g in ("all", "cold", "warm"):
        arms = ", ".join(
            f"{m} {iv(lambda r, m=m, g=g: _r(r, f'{m}.{g}.recall@20'))}" for m in ("popularity", *ARMS)
        )
        parts.append(f"Recall@20 {g}: {arms}")
    parts.append(
        "NDCG@10 all: "
        + ", ".join(f"{m} {iv(lambda r, m=m: _r(r, f'{m}.all.ndcg@10'))}" for m in ("popularity", *ARMS))
    )
    parts.append(f"cold users: paper / current {iv(_over_current('paper', 'cold'), 2)}")
    parts.append(
        "cold lift over a random ranking: "
        + ", ".join(
            f"{m} {iv(lambda r, m=m: _r(r, f'{m}.cold.recall@20') / _r(r, 'random.cold.recall@20'), 2)}"
            for m in ARMS
        )
    )
    parts.append(f"all users: w/o pre-training / current {iv(_over_current('no_pretrain'), 3)}")
    parts.append(
        "train cpu-s: " + ", ".join(f"{m} {iv(lambda r, m=m: _r(r, f'{m}.cpu_seconds'), 0)}" for m in ARMS)
    )
    return "; ".join(parts)


RECFORMER_PRETRAINING = Claim(
    name="recformer_pretraining",
    title=RECFORMER_TITLE,
    statement="Recformer's learning framework -- bidirectional encoder read at [CLS], masked-language-model "
    "+ item-item contrastive pre-training, two-stage fine-tuning against the re-encoded then frozen item "
    "table -- recommends better than the same text-only model trained with the in-batch contrastive loss "
    "alone, at the same number of optimiser steps (MovieLens-100K, cold-item split)",
    effect="the paper's ablation (Table 4) finds the model without pre-training significantly worse on "
    "both ablation data sets and the model without two-stage fine-tuning worse on Instruments; with the "
    "whole framework Recformer improves NDCG@10 by 15.83% on average over the second-best method",
    metric="Recall@20 over all 943 test users (full ranking, seen items excluded), the paper's framework "
    "divided by the earlier Recformer's, both 600 optimiser steps",
    direction="higher",
    threshold=1.1,  # a 10% relative gain, below the paper's 15.8% average margin
    null=1.0,
    control=Control(
        "the paper's framework learns in distribution: its Recall@20 / popularity's on warm-target users",
        1.0,
        lambda r: _r(r, "paper.warm.recall@20") / max(_r(r, "popularity.warm.recall@20"), 1e-12),
    ),
    baselines=(
        Baseline("popularity (same ratio)", measure=_over_current("popularity")),
        Baseline("the earlier Recformer itself", value=1.0),
    ),
    seeds=SEEDS,
    seconds=611.0,  # measured: 3 seeds, cpu-s of the cells (202-204 each)
    make_runs=_runs,
    measure=_over_current("paper"),
    details=_details,
)

CLAIMS = {c.name: c for c in (RECFORMER_PRETRAINING,)}
