"""Prompt waywardness on the real SmolLM2-135M (arXiv 2112.08348), module decode.

Its runs are experiment cells ``decode.waywardness_smollm2``
(:func:`seqlab.decode.waywardness_smollm2.waywardness_smollm2_experiment`): the frozen SmolLM2-135M,
2-way sentiment of gensim's movie-review sentences, ``k`` = 6 prompt vectors, two arbitrary target
texts. Metric, threshold, null, control and baselines were written before any run; one development
run of seed 0 then chose gamma by a rule fixed beforehand (the smallest of 3, 30, 300 whose wayward
prompts project exactly onto both targets, see docs/decode.md); ``seconds`` is the measured
single-thread cpu time of all seeds.
"""

from __future__ import annotations

from seqlab.experiments.cell import ExperimentCell
from seqlab.experiments.claim import Baseline, Claim, Control
from seqlab.experiments.stats import mean_interval

SEEDS = (0, 1, 2)
WAYWARD_TITLE = "Prompt Waywardness: The Curious Case of Discretized Interpretation of Continuous Prompts"
PARAMS = {"gamma": 3.0}  # the rest: seqlab.decode.waywardness_smollm2.DEFAULTS


def _runs(seed):
    return {"way": ExperimentCell("decode.waywardness_smollm2", dict(PARAMS), seed)}


def _targets(r) -> range:
    return range(int(r["way"]["n_targets"]))


def wayward_acc(r, j: int) -> float:
    """Test accuracy of the wayward prompt for target ``j``; chance when its projection is not exactly
    the target (no prompt with that interpretation was found)."""
    w = r["way"]
    return float(w[f"acc_wayward_{j}"]) if float(w[f"f1_wayward_{j}"]) >= 1.0 else float(w["chance"])


def gap(r) -> float:
    """accuracy(tuned continuous prompt) - mean over targets of :func:`wayward_acc`."""
    ts = _targets(r)
    return float(r["way"]["acc_continuous"]) - sum(wayward_acc(r, j) for j in ts) / len(ts)


def _gap_to(key):
    def measure(r):
        w = r["way"]
        if key == "acc_target":
            other = sum(float(w[f"acc_target_{j}"]) for j in _targets(r)) / len(_targets(r))
        else:
            other = float(w[key])
        return float(w["acc_continuous"]) - other

    return measure


def _details(results) -> str:
    def m(fn):
        return f"{mean_interval([float(fn(r)) for r in results.values()]).mean:.3f}"

    first = next(iter(results.values()))
    parts = [
        f"{name} {m(lambda r, key=key: r['way'][key])}"
        for name, key in (
            ("no prompt", "acc_none"),
            ("hand-written", "acc_hand"),
            ("random tokens", "acc_random_tokens"),
            ("tuned continuous", "acc_continuous"),
            ("its projection", "acc_continuous_projected"),
            ("majority class", "acc_majority"),
        )
    ]
    for j in _targets(first):
        parts.append(
            f"target {j}: as a prompt {m(lambda r, j=j: r['way'][f'acc_target_{j}'])}, wayward "
            f"{m(lambda r, j=j: r['way'][f'acc_wayward_{j}'])} (projection F1 "
            f"{m(lambda r, j=j: r['way'][f'f1_wayward_{j}'])}, projected "
            f"{m(lambda r, j=j: r['way'][f'acc_wayward_projected_{j}'])}), tuned prompt's projection F1 "
            f"{m(lambda r, j=j: r['way'][f'f1_continuous_{j}'])}"
        )
    return "test accuracy: " + "; ".join(parts)


PROMPT_WAYWARDNESS_SMOLLM2 = Claim(
    name="prompt_waywardness_smollm2",
    title=WAYWARD_TITLE,
    statement="on the frozen SmolLM2-135M, continuous prompts for movie-review sentiment can be tuned so "
    "that their nearest-token projections are arbitrary target texts while they solve the task within "
    "~2% of the best continuous prompt's accuracy",
    effect="prompts whose discrete projections are arbitrary target texts stay within ~2% accuracy of the "
    "best continuous prompt (paper: GPT-2 family, several classification tasks)",
    metric="accuracy(tuned continuous prompt) - mean over 2 target texts of accuracy(wayward prompt), a "
    "target not projected onto exactly counted at chance 0.5 (SmolLM2-135M frozen, 2-way sentiment of "
    "100 test sentences, k 6, 40 Adam steps of 8 rows)",
    direction="lower",
    threshold=0.02,
    null=0.5,  # the best prompt perfect and the wayward prompts at chance
    control=Control(
        "tuned continuous prompt accuracy - no-prompt accuracy (test rows)",
        0.05,
        _gap_to("acc_none"),
    ),
    baselines=(
        Baseline("no prompt", measure=_gap_to("acc_none")),
        Baseline("majority class", measure=_gap_to("acc_majority")),
        Baseline("random-token prompt", measure=_gap_to("acc_random_tokens")),
        Baseline("the target texts as discrete prompts", measure=_gap_to("acc_target")),
    ),
    seeds=SEEDS,
    seconds=816.0,  # measured: summed cpu_time of its 3 cells (273 + 271 + 272)
    make_runs=_runs,
    measure=gap,
    details=_details,
)

CLAIMS = {c.name: c for c in (PROMPT_WAYWARDNESS_SMOLLM2,)}
