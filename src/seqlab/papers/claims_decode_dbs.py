"""Claim of Diverse Beam Search (arXiv 1610.02424), module decode.

Its runs are experiment cells ``decode.dbs`` (seqlab.decode.dbs_experiment.dbs_experiment). Threshold,
control and baseline were fixed before the 3-seed run (one development run of seed 0 checked that the
cell runs); ``seconds`` is the measured single-thread cpu time of all seeds.
"""

from __future__ import annotations

from seqlab.experiments.cell import ExperimentCell
from seqlab.experiments.claim import Baseline, Claim, Control
from seqlab.experiments.stats import mean_interval

SEEDS = (0, 1, 2)
DBS_TITLE = "Diverse Beam Search: Decoding Diverse Solutions from Neural Sequence Models"
DBS_PARAMS: dict = {}  # the experiment's defaults (seqlab.decode.dbs_experiment.DBS_DEFAULTS)


def _runs(seed):
    return {"dbs": ExperimentCell("decode.dbs", dict(DBS_PARAMS), seed)}


def _details(results) -> str:
    def m(key):
        return f"{mean_interval([float(r['dbs'][key]) for r in results.values()]).mean:.3f}"

    return (
        f"distinct-2 beam {m('distinct2_beam')}, dbs {m('distinct2_dbs')}; mean log-prob beam "
        f"{m('logprob_beam')}, dbs {m('logprob_dbs')} (cost {m('logprob_cost')} nats/sequence); "
        f"perplexity {m('perplexity')} vs unigram {m('unigram_perplexity')}"
    )


DBS_DISTINCT = Claim(
    name="dbs_distinct2",
    title=DBS_TITLE,
    statement="Diverse beam search (4 groups x 1 beam, Hamming strength 0.5) returns 4 sequences with more "
    "distinct bigrams than beam search's 4 beams, on a small word LM",
    effect="DBS raises distinct-n of the returned list over beam search (e.g. distinct-2 on COCO captioning "
    "up by roughly 0.1 absolute, paper Table 1) at a small cost in log-probability",
    metric="distinct-2 of the 4 returned continuations, DBS - beam (32 held-out Lee-corpus prompts)",
    direction="higher",
    threshold=0.05,
    null=0.0,
    control=Control(
        "the LM learnt the corpus: held-out perplexity / add-one unigram perplexity",
        0.9,
        lambda r: float(r["dbs"]["perplexity"]) / float(r["dbs"]["unigram_perplexity"]),
        direction="lower",
    ),
    baselines=(Baseline("beam search (gain 0)", value=0.0),),
    seeds=SEEDS,
    seconds=38.8,  # measured: summed cpu_time of its 3 cells (14.9 + 11.8 + 12.1)
    make_runs=_runs,
    measure=lambda r: float(r["dbs"]["gain_distinct2"]),
    details=_details,
)

CLAIMS = {c.name: c for c in (DBS_DISTINCT,)}
