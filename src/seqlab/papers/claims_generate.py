"""Claims of ``seqlab.generate``: experiment cells of :mod:`seqlab.generate.experiments`.

Thresholds were fixed from the papers before the claims were run (one development run of seed 0,
at the same parameters, had been seen when they were written; see docs/generate.md).
"""

from __future__ import annotations

import dataclasses

from seqlab.experiments.cell import ExperimentCell
from seqlab.experiments.claim import Baseline, Claim, Control
from seqlab.generate.energy import SLED_TITLE
from seqlab.generate.flow import MELODYFLOW_TITLE
from seqlab.generate.keyframe import KEYFACE_TITLE

SEEDS = (0, 1, 2)

# -- KeyFace: keyframe interpolation drifts less at 8x the training length ----------------------------
KEYFRAME_PARAMS = {"dim": 3, "k": 4, "length": 32, "prefix": 17, "hidden": 48, "steps": 300, "n_train": 256}


def _keyframe_runs(seed):
    return {"drift": ExperimentCell("generate.keyframe_drift", dict(KEYFRAME_PARAMS), seed)}


def _ratio(name):
    return lambda r: r["drift"][f"{name}_8x"] / r["drift"]["direct_8x"]


def _keyframe_control(r):
    d = r["drift"]
    return max(d["direct_1x"], d["keyframe_1x"]) / d["mean_1x"]


def _keyframe_details(results) -> str:
    rows = [r["drift"] for r in results.values()]

    def avg(key):
        return sum(x[key] for x in rows) / len(rows)

    parts = [
        f"{m}x: direct {avg(f'direct_{m}x'):.3f} / keyframe {avg(f'keyframe_{m}x'):.3f}" for m in (1, 2, 4, 8)
    ]
    return (
        "MSE of the last 32 frames, mean over seeds: "
        + "; ".join(parts)
        + f"; predict-mean {avg('mean_8x'):.3f}, copy-last {avg('copy_last_8x'):.3f} at 8x"
    )


KEYFRAME_DRIFT = Claim(
    name="keyframe_drift",
    title=KEYFACE_TITLE,
    statement="generating keyframes every k frames and interpolating between them accumulates less error "
    "over long continuations than stepping frame by frame",
    effect="KeyFace: keyframe-then-interpolate keeps long (minute-scale) sequences coherent where "
    "frame-by-frame autoregressive baselines drift (lower FVD / identity drift on long videos); no "
    "drift ratio is published, so the threshold asks for a clear 20% drift reduction",
    metric="MSE of the last 32 generated frames at 8x the training length (256 frames after a 17-frame "
    "prefix), keyframe (k 4) / direct AR, same GRU size, sinusoid trajectories (3 channels)",
    direction="lower",
    threshold=0.8,
    null=1.0,
    control=Control(
        "worse of direct / keyframe MSE at 1x over predict-mean MSE",
        0.3,
        _keyframe_control,
        direction="lower",
    ),
    baselines=(
        Baseline("predict-mean (ratio to direct AR)", measure=_ratio("mean")),
        Baseline("copy-last (ratio to direct AR)", measure=_ratio("copy_last")),
    ),
    seeds=SEEDS,
    seconds=17.5,  # measured: 17.5 cpu-s for the 3 cells (2-core CPU, load ~50)
    make_runs=_keyframe_runs,
    measure=_ratio("keyframe"),
    details=_keyframe_details,
)

# v2: the same claim at 4x the training budget. The v1 control missed (0.380 > 0.3); one development run of
# seed 0 at 1200 steps reached it (0.224) before this claim was written; threshold and control unchanged.
KEYFRAME_V2_PARAMS = {**KEYFRAME_PARAMS, "steps": 1200}


def _keyframe_v2_runs(seed):
    return {"drift": ExperimentCell("generate.keyframe_drift", dict(KEYFRAME_V2_PARAMS), seed)}


KEYFRAME_DRIFT_V2 = dataclasses.replace(
    KEYFRAME_DRIFT,
    name="keyframe_drift_v2",
    metric=KEYFRAME_DRIFT.metric + ", 1200 training steps",
    seconds=59.8,  # measured: 59.8 cpu-s for the 3 cells (2-core CPU, load ~40)
    make_runs=_keyframe_v2_runs,
)

# -- SLED: energy distance beats the RVQ-token model at equal size -----------------------------------
SLED_PARAMS = {"dim": 3, "hidden": 48, "steps": 300, "noise": 0.1, "codebook_size": 32, "levels": 2}


def _sled_runs(seed):
    return {"sled": ExperimentCell("generate.sled_vs_rvq", dict(SLED_PARAMS), seed)}


def _energy_ratio(name):
    return lambda r: r["sled"][f"energy_{name}"] / r["sled"]["energy_rvq"]


def _sled_details(results) -> str:
    rows = [r["sled"] for r in results.values()]

    def avg(key):
        return sum(x[key] for x in rows) / len(rows)

    return (
        f"energy score SLED {avg('energy_sled'):.3f}, RVQ-token {avg('energy_rvq'):.3f}, copy-last "
        f"{avg('energy_copy_last'):.3f}, predict-mean {avg('energy_mean'):.3f}; RVQ reconstruction MSE "
        f"{avg('rvq_recon_mse'):.4f}; parameters SLED {rows[0]['params_sled']}, RVQ {rows[0]['params_rvq']}"
    )


def _sled_claim(name, runs, latents, seconds, statement_tail=""):
    return Claim(
        name=name,
        title=SLED_TITLE,
        statement="an autoregressive model of continuous latents trained with the energy distance predicts "
        "the next-frame distribution better than a same-size model over residual-quantizer tokens"
        + statement_tail,
        effect="SLED: continuous energy-distance autoregression without RVQ matches or beats RVQ-token "
        "speech LMs of similar size (e.g. lower WER / higher speaker similarity than VALL-E-style models); "
        "threshold: a 5% lower energy score than the RVQ-token model",
        metric="held-out next-frame energy score (8 draws, beta 1), SLED / RVQ-token AR (2 levels x 32 "
        f"codes), same GRU backbone (hidden 48), {latents}",
        direction="lower",
        threshold=0.95,
        null=1.0,
        control=Control(
            "SLED energy score / predict-mean energy score",
            0.5,
            lambda r: r["sled"]["energy_sled"] / r["sled"]["energy_mean"],
            direction="lower",
        ),
        baselines=(
            Baseline("copy-last point mass (ratio to RVQ)", measure=_energy_ratio("copy_last")),
            Baseline("predict-mean point mass (ratio to RVQ)", measure=_energy_ratio("mean")),
        ),
        seeds=SEEDS,
        seconds=seconds,
        make_runs=runs,
        measure=_energy_ratio("sled"),
        details=_sled_details,
    )


# measured: 21.2 cpu-s for the 3 cells (2-core CPU, load ~50)
SLED_ENERGY = _sled_claim("sled_energy", _sled_runs, "noisy sinusoid latents (3 channels, noise 0.1)", 21.2)

# -- SLED on the latents of an autoencoder trained here (generated decaying tones) -----------------------
SLED_AE_PARAMS = {"dim": 3, "hidden": 48, "steps": 300, "codebook_size": 32, "levels": 2, "length": 32,
                  "hop": 16, "ae_steps": 600, "ae_width": 64}


def _sled_ae_runs(seed):
    return {"sled": ExperimentCell("generate.sled_vs_rvq_autoencoder", dict(SLED_AE_PARAMS), seed)}


SLED_ENERGY_AE = _sled_claim(
    "sled_energy_autoencoder",
    _sled_ae_runs,
    "3-d latents (standardised) of a frame autoencoder (hop 16, 600 steps) trained here on generated "
    "decaying harmonic tones",
    27.5,  # measured: 27.5 cpu-s for the 3 cells (2-core CPU, load ~20)
    " -- on the latents of an autoencoder, as in the paper",
)

# -- MelodyFlow: the regularised (fixed-point) inversion reconstructs better than naive inversion ------
FLOW_PARAMS = {"dim": 3, "length": 16, "steps": 300, "ode_steps": 10, "iters": 4, "d_model": 32, "layers": 2}


def _flow_runs(seed):
    return {"flow": ExperimentCell("generate.flow_inversion", dict(FLOW_PARAMS), seed)}


def _recon_ratio(name):
    return lambda r: r["flow"][f"recon_{name}"] / r["flow"]["recon_naive"]


def _flow_details(results) -> str:
    rows = [r["flow"] for r in results.values()]

    def avg(key):
        return sum(x[key] for x in rows) / len(rows)

    return (
        f"reconstruction MSE naive {avg('recon_naive'):.4f}, fixed-point {avg('recon_fixed'):.2e}, "
        f"fresh sample {avg('recon_fresh'):.3f}, predict-mean {avg('recon_mean'):.3f}; edit to the other "
        f"condition: MSE to the source naive {avg('edit_naive'):.3f}, fixed-point {avg('edit_fixed'):.3f}; "
        "inverted-noise std "
        f"naive {avg('noise_std_naive'):.3f}, fixed-point {avg('noise_std_fixed'):.3f}; FM loss "
        f"{avg('fm_loss'):.3f} (zero velocity {avg('fm_loss_zero_velocity'):.3f})"
    )


FLOW_INVERSION = Claim(
    name="flow_inversion",
    title=MELODYFLOW_TITLE,
    statement="inverting a latent sequence with the regularised (ReNoise-style fixed-point) inversion and "
    "regenerating it reproduces the input far better than naive DDIM-style inversion",
    effect="MelodyFlow: its regularised latent inversion beats naive DDIM inversion (and ReNoise) on the "
    "editing fidelity metrics; no reconstruction ratio is published, so the threshold asks for half the "
    "naive reconstruction error",
    metric="reconstruction MSE after invert -> regenerate (10 Euler steps, same condition), fixed-point "
    "(4 iterations) / naive, 2-layer transformer velocity field on 16-frame 3-channel sinusoid latents",
    direction="lower",
    threshold=0.5,
    null=1.0,
    control=Control(
        "held-out flow-matching loss / zero-velocity loss",
        0.6,
        lambda r: r["flow"]["fm_loss"] / r["flow"]["fm_loss_zero_velocity"],
        direction="lower",
    ),
    baselines=(
        Baseline("fresh sample, no inversion (ratio to naive)", measure=_recon_ratio("fresh")),
        Baseline("predict-mean (ratio to naive)", measure=_recon_ratio("mean")),
    ),
    seeds=SEEDS,
    seconds=8.8,  # measured: 8.8 cpu-s for the 3 cells (2-core CPU, load ~50)
    make_runs=_flow_runs,
    measure=_recon_ratio("fixed"),
    details=_flow_details,
)

# -- MelodyFlow: regularised inversion edits better (known ideal edit: content + offset) ----------------
EDIT_PARAMS = {"dim": 3, "length": 16, "steps": 600, "ode_steps": 10, "iters": 4, "reg_weight": 0.1,
               "offset": 1.5, "n_train": 512, "n_test": 64}


def _edit_runs(seed):
    return {"edit": ExperimentCell("generate.flow_editing", dict(EDIT_PARAMS), seed)}


def _edit_ratio(name):
    return lambda r: r["edit"][f"edit_{name}"] / r["edit"]["edit_naive"]


def _edit_details(results) -> str:
    rows = [r["edit"] for r in results.values()]

    def avg(key):
        return sum(x[key] for x in rows) / len(rows)

    parts = [
        f"{m}: edit MSE {avg(f'edit_{m}'):.4f}, reconstruction {avg(f'recon_{m}'):.2e}, inverted-noise std "
        f"{avg(f'noise_std_{m}'):.2f}, lag-1 autocorrelation {avg(f'noise_lag1_{m}'):.2f}"
        for m in ("naive", "fixed", "reg")
    ]
    return "; ".join(parts) + (
        f"; source unchanged {avg('edit_none'):.3f}, fresh target sample {avg('edit_fresh'):.3f}, "
        f"target mean {avg('edit_mean'):.3f}"
    )


FLOW_EDITING = Claim(
    name="flow_editing",
    title=MELODYFLOW_TITLE,
    statement="editing by inversion with the noise-regularised fixed-point inversion and regeneration under "
    "the target condition lands closer to the ideal edit than naive DDIM-style inversion",
    effect="MelodyFlow: its regularised latent inversion gives better edits than DDIM inversion and "
    "ReNoise (higher CLAP adherence at equal or better chroma fidelity); no error ratio is published, so "
    "the threshold asks for a 20% lower error to the ideal edit",
    metric="MSE to the ideal edit (source + condition offset) after invert (condition 0) -> regenerate "
    "(condition 1), 10 Euler steps, regularised fixed-point (4 iterations, weight 0.1) / naive; "
    "2-layer transformer velocity field on 16-frame 3-channel sinusoid latents",
    direction="lower",
    threshold=0.8,
    null=1.0,
    control=Control(
        "fresh samples carry their condition (nearest class-mean accuracy over both conditions)",
        0.9,
        lambda r: r["edit"]["condition_accuracy"],
    ),
    baselines=(
        Baseline("source returned unchanged (ratio to naive)", measure=_edit_ratio("none")),
        Baseline("fresh sample of the target condition (ratio to naive)", measure=_edit_ratio("fresh")),
        Baseline("target-condition mean (ratio to naive)", measure=_edit_ratio("mean")),
    ),
    seeds=SEEDS,
    seconds=14.2,  # measured: 14.2 cpu-s for the 3 cells (2-core CPU, load ~20)
    make_runs=_edit_runs,
    measure=_edit_ratio("reg"),
    details=_edit_details,
)

CLAIMS = {
    c.name: c
    for c in (KEYFRAME_DRIFT, KEYFRAME_DRIFT_V2, SLED_ENERGY, SLED_ENERGY_AE, FLOW_INVERSION, FLOW_EDITING)
}
