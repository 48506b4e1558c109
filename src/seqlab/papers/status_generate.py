"""Paper judgements of ``seqlab.generate`` (continuous-sequence generation)."""

from __future__ import annotations

from seqlab.papers.status import PARTIAL, Judgement

KEYFACE = "KeyFace: Expressive Audio-Driven Facial Animation for Long Sequences via KeyFrame Interpolation"

STATUS = {
    "Efficient Speech Language Modeling via Energy Distance in Continuous Latent Space": Judgement(
        PARTIAL,
        "generate.energy: the energy-distance loss (tested against a Monte-Carlo formula and as a proper "
        "score), SLED (noise-injected head, 2 draws per step) on a GRU or a causal-transformer backbone "
        "(seqlab's SequenceModel attention blocks, KV-cache sampling; tested causal), autoregressive "
        "sampling, the same-size RVQ-token model on the same backbone (generate.rvq_ar), latents of a frame "
        "autoencoder trained here on generated tones (generate.autoencoder); claims sled_energy, "
        "sled_energy_autoencoder, sled_energy_transformer; missing: a pretrained audio codec and speech data "
        "(neither ships offline), hence the paper's speech-synthesis evaluation",
    ),
    KEYFACE: Judgement(
        PARTIAL,
        "generate.keyframe: the two stages (keyframe model every k frames, interpolator between keyframes) "
        "vs direct AR at 1x-8x the training length; claims keyframe_drift, keyframe_drift_v2; missing: the "
        "diffusion models, audio / identity / emotion conditioning (face animation out of scope)",
    ),
    "High Fidelity Text-Guided Music Generation and Editing via Single-Stage Flow Matching": Judgement(
        PARTIAL,
        "generate.flow: conditional flow matching with a transformer velocity field over latent sequences, "
        "Euler sampling, naive DDIM-style inversion and the ReNoise-style fixed-point inversion adapted to "
        "flow matching (tested on analytic fields), the noise-regularised inversion (ReNoise's KL + "
        "autocorrelation penalty, invert_regularised) and an editing task with a known ideal edit; claims "
        "flow_inversion, flow_editing; missing: text conditioning, the VAE codec latents, and the paper's "
        "editing metrics (CLAP, chroma) on music",
    ),
}
