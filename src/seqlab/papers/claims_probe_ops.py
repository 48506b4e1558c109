"""Claims of the probe operators (interaction operator, relevance): experiment cells of ``seqlab.probe``.

Each claim's runs are :class:`~seqlab.experiments.cell.ExperimentCell` s; the experiment functions
live in :mod:`seqlab.probe` (``probe.head_count`` in :mod:`seqlab.probe.headcount`). Thresholds come
from the papers and were fixed before any run.
"""

from __future__ import annotations

from seqlab.experiments.cell import ExperimentCell
from seqlab.experiments.claim import Baseline, Claim, Control

SEEDS = (0, 1, 2)
HEADS_TITLE = "How Many Heads Make an SSM? A Unified Framework for Attention and State Space Models"
HEAD_COUNT_PARAMS = {"d_model": 8, "d_state": 3, "length": 32, "n_heads": 2}


def _head_count_runs(seed):
    return {"head_count": ExperimentCell("probe.head_count", dict(HEAD_COUNT_PARAMS), seed)}


def _head_count_details(results) -> str:
    rows = [r["head_count"] for r in results.values()]
    needed = "/".join(str(r["heads_needed"]) for r in rows)
    below = "/".join(f"{r['error_below_k']:.3g}" for r in rows)
    return f"heads needed per seed {needed} (k = {rows[0]['k']}); error with k - 1 heads {below}"


HEAD_COUNT = Claim(
    name="head_count",
    title=HEADS_TITLE,
    statement="a linear SSM whose lag operators span k dimensions is exactly an H = k head factorized "
    "(attention-form) operator; fewer heads leave an error",
    effect="Equivalence (head-count) theorem: H = k heads are necessary and sufficient (exact, error 0)",
    metric="relative error of the best k-head factorized fit of an LRU operator with k = 6 real state "
    "dims (d 8, length 32, skip removed)",
    direction="lower",
    threshold=1e-6,  # exact in theory: float64 round-off only
    null=1.0,  # zero heads: the zero operator
    control=Control(
        "2-head attention's operator fitted with 2 heads (relative error)",
        1e-6,
        lambda r: r["head_count"]["control_error"],
        direction="lower",
    ),
    baselines=(
        Baseline("zero operator (0 heads)", value=1.0),
        Baseline("k - 1 heads", measure=lambda r: r["head_count"]["error_below_k"]),
    ),
    seeds=SEEDS,
    seconds=0.1,  # measured: 0.025 cpu-s for the 3 cells (2-core CPU, under load)
    make_runs=_head_count_runs,
    measure=lambda r: r["head_count"]["error_at_k"],
    details=_head_count_details,
)

# -- MambaLRP ---------------------------------------------------------------------------------------
LRP_TITLE = "MambaLRP: Explaining Selective State Space Sequence Models"
LRP_PARAMS = {"length": 12, "vocab": 6, "d_model": 16, "steps": 300, "n_explain": 16}


def _lrp_runs(seed):
    return {"mamba_lrp": ExperimentCell("probe.mamba_lrp", dict(LRP_PARAMS), seed)}


def _lrp_details(results) -> str:
    rows = [r["mamba_lrp"] for r in results.values()]

    def mean(key):
        return sum(r.get(key, float("nan")) for r in rows) / len(rows)

    return (
        f"not judged: inputs-only gap of MambaLRP {mean('gap_lrp_inputs_only'):.3f} (the rest on biases), "
        f"IG completeness gap {mean('gap_ig'):.3f}; perturbation AOPC (logit drop, most relevant tokens "
        f"first) MambaLRP {mean('aopc_lrp'):.2f}, gradient x input {mean('aopc_gxi'):.2f}, IG "
        f"{mean('aopc_ig'):.2f}, random {mean('aopc_random'):.2f}"
    )


MAMBA_LRP_CONSERVATION = Claim(
    name="mamba_lrp_conservation",
    title=LRP_TITLE,
    statement="with MambaLRP's rules the relevances of a trained Mamba model sum to its output; plain "
    "gradient x input (LRP-0) breaks conservation in the SiLU, selective-SSM, gate and norm layers",
    effect="conservation: MambaLRP's relevance sums lie on the diagonal against the output logit, gradient "
    "x input's scatter away from it (conservation plots); exact in theory",
    metric="median relative conservation gap |sum of input + bias relevance - logit| / |logit| of MambaLRP, "
    "16 test sequences of a 2-layer Mamba classifier (marker detection, length 12)",
    direction="lower",
    threshold=1e-6,  # exact in theory: float64 round-off only
    null=1.0,  # zero relevance
    control=Control(
        "test accuracy of the trained Mamba classifier", 0.9, lambda r: r["mamba_lrp"]["accuracy"]
    ),
    baselines=(
        Baseline("zero relevance", value=1.0),
        Baseline("gradient x input", measure=lambda r: r["mamba_lrp"]["gap_gxi"]),
    ),
    seeds=SEEDS,
    seconds=14.2,  # measured: summed cpu_time of its 3 cells (2-core CPU under load; wall 63 s)
    make_runs=_lrp_runs,
    measure=lambda r: r["mamba_lrp"]["gap_lrp"],
    details=_lrp_details,
)

# -- concept geometry -------------------------------------------------------------------------------
CONCEPTS_TITLE = "The Geometry of Categorical and Hierarchical Concepts in Large Language Models"
CONCEPTS_PARAMS = {"model": "smollm2-135m", "train_fraction": 0.8}


def _concept_runs(seed):
    return {"concepts": ExperimentCell("probe.concept_geometry", dict(CONCEPTS_PARAMS), seed)}


def _concept_details(results) -> str:
    rows = [r["concepts"] for r in results.values()]

    def mean(key):
        return sum(r.get(key, float("nan")) for r in rows) / len(rows)

    return (
        f"not judged: sibling differences vs parent |cos| {mean('sibling_abs_cos'):.3f} (shuffled "
        f"{mean('shuffled_sibling_abs_cos'):.3f}); without the causal inner product (raw unembedding) "
        f"{mean('raw_abs_cos'):.3f}; held-out AUC {mean('heldout_auc'):.3f}"
    )


HIERARCHICAL_ORTHOGONALITY = Claim(
    name="hierarchical_orthogonality",
    title=CONCEPTS_TITLE,
    statement="in the causal inner product of an LM's unembedding, a child concept's vector minus its "
    "parent's is orthogonal to the parent's (animal vs mammal - animal), beyond a shuffled hierarchy",
    effect="hierarchical orthogonality l_w . (l_z - l_w) = 0 for z subordinate to w (proved under their "
    "model; Gemma/LLaMA-3 WordNet cosines concentrate near 0)",
    metric="mean |cos(l_parent, l_child - l_parent)| over 12 category > subcategory pairs, SmolLM2-135M "
    "causal unembedding, 80% of each subcategory's words (seed = subsample)",
    direction="lower",
    threshold=0.1,  # near-orthogonal (within ~84 degrees)
    null=1.0,  # child - parent parallel to the parent
    control=Control(
        "held-out word AUC of the 12 subcategory vectors", 0.8, lambda r: r["concepts"]["heldout_auc"]
    ),
    baselines=(Baseline("shuffled hierarchy", measure=lambda r: r["concepts"]["shuffled_abs_cos"]),),
    seeds=SEEDS,
    seconds=23.5,  # measured: summed cpu_time of its 3 cells (2-core CPU under load 50; wall 173 s)
    make_runs=_concept_runs,
    measure=lambda r: r["concepts"]["abs_cos"],
    details=_concept_details,
)

CLAIMS = {c.name: c for c in (HEAD_COUNT, MAMBA_LRP_CONSERVATION, HIERARCHICAL_ORTHOGONALITY)}
