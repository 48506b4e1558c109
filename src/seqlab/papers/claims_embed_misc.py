"""Claims of PixelBytes and of continuous retrieval (cells in :mod:`seqlab.embed.experiments_misc`).

Both follow docs/papers.md: effect and threshold fixed before running, a positive control, trivial
baselines measured in the same cells, 3 seeds.
"""

from __future__ import annotations

from seqlab.experiments.cell import ExperimentCell
from seqlab.experiments.claim import Baseline, Claim, Control

SEEDS = (0, 1, 2)


def _pb_runs(seed: int) -> dict:
    return {"pb": ExperimentCell("embed.pixelbytes", {}, seed)}


def _gap(r) -> float:
    return r["pb"]["autoregressive"]["acc"] - r["pb"]["predict"]["acc"]


def _mean(res, f) -> float:
    return sum(f(r) for r in res.values()) / len(res)


PIXELBYTES_AR = Claim(
    name="pixelbytes_autoregressive",
    title="PixelBytes: Catching Unified Representation for Multimodal Generation",
    statement=(
        "on caption + MNIST-digit byte/pixel sequences, the PxBy-embedded LSTM trained autoregressively (its "
        "head predicts the next position's whole context window) predicts held-out next tokens more "
        "accurately than the same model trained predictively (next token only), same data, steps and seed"
    ),
    effect=(
        "the second report compares LSTMs in predictive and autoregressive modes and finds that the "
        "autoregressive models perform better (abstract; training curves, no single figure); here the "
        "smallest gain worth reporting, one point of held-out next-token accuracy, fixed before running"
    ),
    metric="held-out next-token accuracy, autoregressive - predictive (all tokens)",
    direction="higher",
    threshold=0.01,
    null=0.0,
    control=Control(
        "predictive model's held-out pixel accuracy minus the best trivial predictor's (it learned images)",
        0.02,
        lambda r: r["pb"]["predict"]["pixel_acc"] - r["pb"]["best_trivial_pixel_acc"],
    ),
    baselines=(
        Baseline("no difference between the objectives", value=0.0),
        Baseline(
            "best trivial predictor (majority / copy previous / copy above) - predictive",
            measure=lambda r: r["pb"]["best_trivial_acc"] - r["pb"]["predict"]["acc"],
        ),
    ),
    seeds=SEEDS,
    seconds=191.0,  # measured: summed single-thread CPU seconds of the 3 cells (~63 each)
    make_runs=_pb_runs,
    measure=_gap,
    details=lambda res: (
        "acc AR {:.3f} / pred {:.3f}; pixels AR {:.3f} / pred {:.3f}; gen16 AR {:.3f} / pred {:.3f} / "
        "copy-above {:.3f}; best trivial {:.3f}".format(
            _mean(res, lambda r: r["pb"]["autoregressive"]["acc"]),
            _mean(res, lambda r: r["pb"]["predict"]["acc"]),
            _mean(res, lambda r: r["pb"]["autoregressive"]["pixel_acc"]),
            _mean(res, lambda r: r["pb"]["predict"]["pixel_acc"]),
            _mean(res, lambda r: r["pb"]["autoregressive"]["gen16"]),
            _mean(res, lambda r: r["pb"]["predict"]["gen16"]),
            _mean(res, lambda r: r["pb"]["baselines"]["copy_above_gen16"]),
            _mean(res, lambda r: r["pb"]["best_trivial_acc"]),
        )
    ),
)


def _ret_runs(seed: int) -> dict:
    return {"ret": ExperimentCell("embed.continuous_retrieval", {}, seed)}


CONTINUOUS_RETRIEVAL = Claim(
    name="continuous_retrieval_vs_bm25",
    title="End-to-End Retrieval in Continuous Space",
    statement=(
        "a dual encoder trained for retrieval, searched end to end through an ANN index (faiss HNSW), "
        "beats BM25 over an inverted index in MAP on Lee first-half -> second-half retrieval (100 test "
        "documents, trained on the other ~200)"
    ),
    effect=(
        "trained retrieval models searched by ANN improve on a discrete baseline by 8% and 26% MAP on two "
        "similar-question retrieval tasks (1811.08008, abstract); threshold: the smaller gain, MAP ratio 1.08"
    ),
    metric="MAP(dual encoder, ANN) / MAP(BM25)",
    direction="higher",
    threshold=1.08,
    null=1.0,
    control=Control(
        "dual encoder MAP on 100 of its own training pairs (it learned the task in distribution)",
        0.5,
        lambda r: r["ret"]["dense_train"]["map"],
    ),
    baselines=(
        Baseline("random ranking", measure=lambda r: r["ret"]["random"]["map"] / r["ret"]["bm25"]["map"]),
    ),
    seeds=SEEDS,
    seconds=21.0,  # measured: summed single-thread CPU seconds of the 3 cells (~7 each)
    make_runs=_ret_runs,
    measure=lambda r: r["ret"]["dense"]["map"] / r["ret"]["bm25"]["map"],
    details=lambda res: (
        "MAP dense {:.3f} (exact {:.3f}) / BM25 {:.3f} / random {:.3f}; train MAP {:.3f}".format(
            *(
                _mean(res, lambda r, k=k: r["ret"][k]["map"])
                for k in ("dense", "dense_exact", "bm25", "random", "dense_train")
            )
        )
    ),
)


def _lmk_runs(seed: int) -> dict:
    return {"lmk": ExperimentCell("embed.lmk_trained", {}, seed)}


def _lmk_gap(r) -> float:
    return r["lmk"]["lmk"]["long"] - max(r["lmk"]["cls"]["long"], r["lmk"]["mean"]["long"])


LMK_TRAINED = Claim(
    name="lmk_trained_long_inputs",
    title="LMK > CLS: Landmark Pooling for Dense Embeddings",
    statement=(
        "a small bidirectional-attention SequenceModel trained contrastively with landmark pooling "
        "retrieves the passage holding a query's 8 evidence tokens among 100 passages of 256 tokens better "
        "than the same encoder trained with CLS or mean pooling (all trained on 32-token passages: length "
        "extrapolation)"
    ),
    effect=(
        "LMK pooling matches CLS / mean on short contexts and yields substantial improvements on "
        "long-context tasks (2601.21525, abstract); here a gain of 0.05 top-1 accuracy over the better of "
        "CLS and mean"
    ),
    metric="top-1 retrieval accuracy at 256 tokens, LMK - max(CLS, mean)",
    direction="higher",
    threshold=0.05,
    null=0.0,
    control=Control(
        "LMK encoder's top-1 accuracy at the training length (32 tokens)",
        0.5,
        lambda r: r["lmk"]["lmk"]["short"],
    ),
    baselines=(
        Baseline("no gain over CLS / mean", value=0.0),
        Baseline(
            "random ranking - max(CLS, mean)",
            measure=lambda r: r["lmk"]["random"] - max(r["lmk"]["cls"]["long"], r["lmk"]["mean"]["long"]),
        ),
    ),
    seeds=SEEDS,
    seconds=15.0,  # measured: summed single-thread CPU seconds of the 3 cells (~5 each)
    make_runs=_lmk_runs,
    measure=_lmk_gap,
    details=lambda res: (
        "short / long top-1: "
        + ", ".join(
            f"{k} {_mean(res, lambda r, k=k: r['lmk'][k]['short']):.3f} / "
            f"{_mean(res, lambda r, k=k: r['lmk'][k]['long']):.3f}"
            for k in ("cls", "mean", "lmk")
        )
    ),
)

# v2: the same cell, claim, threshold and control with a training budget at which the control can be met.
# Chosen by ONE development run of seed 0 that measured only the control (LMK top-1 at the training length)
# at 150 / 300 / 500 / 750 / 1000 / 1500 / 2000 steps: 0.32 / 0.51 / 0.53 / 0.53 / 0.54 / 0.59 / 0.54.
LMK_V2_STEPS = 1500


def _lmk_runs_v2(seed: int) -> dict:
    return {"lmk": ExperimentCell("embed.lmk_trained", {"steps": LMK_V2_STEPS}, seed)}


LMK_TRAINED_V2 = Claim(
    name="lmk_trained_long_inputs_v2",
    title=LMK_TRAINED.title,
    statement=LMK_TRAINED.statement.replace("(all trained", f"({LMK_V2_STEPS} Adam steps, all trained"),
    effect=LMK_TRAINED.effect,
    metric=LMK_TRAINED.metric,
    direction="higher",
    threshold=0.05,
    null=0.0,
    control=LMK_TRAINED.control,
    baselines=LMK_TRAINED.baselines,
    seeds=SEEDS,
    seconds=121.0,  # measured: summed single-thread CPU seconds of the 3 cells (~40 each)
    make_runs=_lmk_runs_v2,
    measure=_lmk_gap,
    details=LMK_TRAINED.details,
)

CLAIMS = {c.name: c for c in (PIXELBYTES_AR, CONTINUOUS_RETRIEVAL, LMK_TRAINED, LMK_TRAINED_V2)}
