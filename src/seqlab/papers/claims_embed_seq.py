"""Claims of the sequence-representation papers (HVM, sequence sorting, continuity, categorical).

Runs are experiment cells of :mod:`seqlab.embed.experiments_seq`. Every threshold was fixed from the
paper before the three seeds ran; ``seconds`` is the measured single-thread CPU time of all three seeds.
"""

from __future__ import annotations

from seqlab.experiments.cell import ExperimentCell
from seqlab.experiments.claim import Baseline, Claim, Control
from seqlab.experiments.stats import mean_interval


def _summary(res, run: str, keys, fmt: str = "{:.3f}") -> str:
    parts = []
    for k in keys:
        iv = mean_interval([float(r[run][k]) for r in res.values()])
        parts.append(f"{k} " + fmt.format(iv.mean))
    return ", ".join(parts)


# -- HVM: compression against Lempel-Ziv on nested sequences ----------------------------------------------
# development runs of the generator used seeds 0-2, so the claim uses fresh seeds
HVM_SEEDS = (3, 4, 5)
HVM_PARAMS = {
    "nested": {"n_atoms": 10, "depth": 3, "items": 6, "parts": [2, 3], "var_prob": 0.5, "var_size": 3},
    "length": 3000,
    "easy": {"n_atoms": 12, "depth": 1, "items": 4, "parts": [2, 3], "disjoint": True},
    "easy_length": 1500,
}


def _hvm_runs(seed: int) -> dict:
    return {"hvm": ExperimentCell("embed.hvm_compression", dict(HVM_PARAMS), seed)}


def _hvm_ratio(r) -> float:
    return float(r["hvm"]["hvm"]) / float(r["hvm"]["lz78"])


def _hvm_details(res) -> str:
    keys = ("hvm", "hvm_novar", "lz78", "zlib", "raw_kt", "hvm_units", "hvm_entries", "hvm_variables")
    return "bits: " + _summary(res, "hvm", keys, "{:.0f}")


HVM_LZ = Claim(
    name="hvm_vs_lz",
    title="Building, Reusing, and Generalizing Abstract Representations from Concrete Sequences",
    statement="HVM's chunks and variables describe a sequence with nested structure in fewer bits than LZ78",
    effect="on babyLM, HVM learns a more efficient dictionary than Lempel-Ziv (shorter encoded sequence "
    "and higher coding efficiency at a comparable dictionary size)",
    metric="HVM description length (dictionary + units + fillers, bits) / LZ78 code length, one sequence "
    "of 3000 atoms from a random 3-level grammar with variable slots",
    direction="lower",
    threshold=0.8,
    null=1.0,
    control=Control(
        "planted-chunk recall on an easy grammar (one level, disjoint atoms)",
        0.9,
        lambda r: float(r["hvm"]["easy_recall"]),
    ),
    baselines=(
        Baseline(
            "no chunks: adaptive code of the raw atoms / LZ78",
            measure=lambda r: r["hvm"]["raw_kt"] / r["hvm"]["lz78"],
        ),
        Baseline("zlib (deflate level 9) / LZ78", measure=lambda r: r["hvm"]["zlib"] / r["hvm"]["lz78"]),
    ),
    seeds=HVM_SEEDS,
    seconds=0.3,  # measured: 0.08 + 0.07 + 0.09 cpu-s
    make_runs=_hvm_runs,
    measure=_hvm_ratio,
    details=_hvm_details,
)

CLAIMS: dict[str, Claim] = {c.name: c for c in (HVM_LZ,)}
