"""Judgements of the probe papers this branch implements (similarity, layers, invertibility)."""

from __future__ import annotations

from seqlab.papers.status import IMPLEMENTED, PARTIAL, Judgement

STATUS = {
    "Language Models are Injective and Hence Invertible": Judgement(
        IMPLEMENTED,
        "collision_test (min pairwise last-token distance) and sipit (sequential inversion, exact by "
        "verification; gradient, linear and scan candidate orders); exact on seqlab models and SmolLM2 "
        "(tests/probe/test_invert.py); claim sipit_smollm2",
    ),
    "The Platonic Representation Hypothesis": Judgement(
        IMPLEMENTED,
        "mutual_knn alignment (tested: 1 for a space with itself, ~k/N for independent spaces, plain loop); "
        "claim platonic_smollm2_minilm (SmolLM2 vs MiniLM)",
    ),
    # -- onion representations, selective-SSM length gap, representation flow ----------
    "A Comparative Analysis of Contextual Representation Flow in State-Space and Transformer Architectures": (
        Judgement(
            IMPLEMENTED,
            "layer_flow: consecutive-layer CKA, stability, token similarity and per-layer linear probes for "
            "any seqlab model or SmolLM2; probe.flow trains a Mamba stack and a transformer of equal size on "
            "the same character-LM batches and compares their curves, trained and untrained (parameter "
            "randomisation); claim ssm_transformer_flow. Small models only, not the paper's pretrained LMs",
        )
    ),
    "Recurrent Neural Networks Learn to Store and Generate Sequences using Non-Linear Representations": (
        Judgement(
            IMPLEMENTED,
            "task repeat (autoregressive), a GRU on it (probe.rnn_repeat), the onion model h ~ b + sum_p "
            "gamma_p E[x_p] (fit_onion, train_onion), the peeling decoder, onion interventions on the "
            "state and per-position linear probes (tests/probe/test_onion.py); claim rnn_onion_probe",
        )
    ),
}

# -- frames, continuous time, categorical simplices, shifting tasks --
_FRH = "Frame Representation Hypothesis: Multi-Token LLM Interpretability and Concept-Guided Text Generation"
STATUS[_FRH] = (
    Judgement(
        PARTIAL,
        "probe.frames: word frames from SmolLM2's unembedding (causal inner product), frame rank, polar/QR "
        "frames on the Stiefel manifold, concept frames as the extrinsic Frechet mean polar(sum of padded "
        "word frames) (tested against perturbations), frame correlation, top-k concept-guided decoding over "
        "seqlab.decode scored by the candidate's token vector or (concept_guided_hidden, the paper's way) by "
        "the last hidden state after each candidate (weight 0 = greedy, plain-loop tests); shipped "
        "10-concept word lists; claim frame_guided_decoding (token-vector scoring); missing: combined "
        "concept frames (Procrustes), WordNet-scale multilingual concepts, the paper's bias/safety studies",
    )
)
STATUS["Language Models Are Implicitly Continuous"] = Judgement(
    PARTIAL,
    "probe.continuous: token durations as log-duration attention biases and RoPE at real-valued start "
    "times (the closed form of the time integral of causal attention, tested against quadrature, "
    "interval splitting and the vanishing-duration limit); continuous_logits for SmolLM2 and "
    "continuous_time hooks for seqlab attention transformers (unit durations reproduce both); claim "
    "continuous_counting; missing: space continuity (interpolated embeddings between tokens), the "
    "continuous output-space readout and the paper's arithmetic/semantic experiments",
)
STATUS["Learning useful representations for shifting tasks and distributions"] = Judgement(
    PARTIAL,
    "probe.concat_runs: concatenated representations of independently seeded SequenceModel runs "
    "(concat_features), a redundant-cue task whose cues decorrelate under the shift, ridge probes of "
    "concatenated vs one wider run vs one run vs untrained runs; claim concat_shift; missing: the paper's "
    "image/text pretraining scale, its rich-representation training (cat then fine-tune, distillation) "
    "and the out-of-distribution benchmarks",
)


# -- the selective-SSM bound's length term and the unstable arm --
_GEN_SSM = "Generalization Error Analysis for Selective State-Space Models Through the Lens of Attention"
STATUS[_GEN_SSM] = Judgement(
    PARTIAL,
    "probe.length_gap: train - test gap of a 1-layer Mamba on majority at several lengths and its slope in "
    "log T, against a per-position readout and attention with learned positions (claim "
    "selective_ssm_length_gap); probe.selective_bound: the bound's length-dependence term -- transition "
    "norms ||prod exp(delta_r A)||, their mass per position and its geometric envelope sum_k exp(s_A "
    "delta k), with the spectral abscissa s_A -- read out of any trained Mamba "
    "(selective_ssm_bound_terms, tested against explicit matrix products); the unstable arm (UnstableMamba, "
    "A clamped to real parts >= a_min > 0; claim selective_ssm_unstable_length_gap); missing: the full "
    "covering-number bound (its norm constants and Dudley integral), IMDb and ListOps",
)
STATUS["Does Representation Matter? Exploring Intermediate Layers in Large Language Models"] = Judgement(
    IMPLEMENTED,
    "prompt entropy (matrix Renyi), curvature, augmentation invariance (InfoNCE), LiDAR and DiME "
    "(probe.view_metrics, tested against loop formulas), per-layer probes and the layer each metric "
    "picks; claims intermediate_layer_probe and lidar_layer_pick (the LiDAR-picked layer vs the last); "
    "the training-checkpoint study on a small seqlab character LM (probe.checkpoint_layers: entropy, "
    "LiDAR and a next-character probe per layer at evenly spaced checkpoints; descriptive, no claim) "
    "rather than on Pythia's released checkpoints",
)
