"""Claims of the probe module (similarity, layers, invertibility), run as experiment cells.

Criteria were fixed before any run (docs/papers.md); the experiments are in
:mod:`seqlab.probe.experiments`. Each reads one cell per seed, named after the experiment.
"""

from __future__ import annotations

from seqlab.experiments.cell import ExperimentCell
from seqlab.experiments.claim import Baseline, Claim, Control

SEEDS = (0, 1, 2)
SMOLLM2_VOCAB = 49152

SIPIT_PARAMS = {"layer": 1, "n_prompts": 17, "length": 8, "max_candidates": 4096, "batch": 256}
PLATONIC_PARAMS = {"n": 300, "k": 10, "layer": 20, "max_tokens": 16}
INTERMEDIATE_PARAMS = {"folds": 5, "ridge": 10.0, "aug_texts": 64}


def _cell(name: str, params: dict):
    return lambda seed: {name: ExperimentCell(f"probe.{name}", dict(params), seed)}


def _get(run: str, key: str):
    return lambda r: float(r[run][key])


def _picks(res) -> str:
    parts = []
    for seed, r in sorted(res.items()):
        x = r["intermediate"]
        parts.append(
            f"seed {seed}: chosen layers {x['picked_layers']}, last {x['last_accuracy']:.3f}, "
            f"best {x['best_accuracy']:.3f}, metric picks {x['metric_picks']}"
        )
    return "; ".join(parts)


CLAIMS = {
    "sipit_smollm2": Claim(
        name="sipit_smollm2",
        title="Language Models are Injective and Hence Invertible",
        statement="SipIt recovers every input token of short prompts exactly from SmolLM2's hidden states",
        effect="SipIt: 100% exact token-level recovery of prompts from hidden states (GPT-2 family "
        "and others); "
        "no collision in billions of prompt pairs",
        metric="fraction of tokens recovered exactly, SmolLM2-135M layer 1, 17 Lee-corpus prompts x 8 tokens "
        "per seed (51 disjoint prompts over 3 seeds), linear candidate order, at most 4096 "
        "candidates a position",
        direction="higher",
        threshold=1.0,
        null=1.0 / SMOLLM2_VOCAB,
        control=Control(
            "SipIt at layer 0 (the embedding lookup itself) recovers the prompts",
            0.99,
            _get("sipit", "layer0_recovered"),
        ),
        baselines=(
            Baseline("chance 1/V", value=1.0 / SMOLLM2_VOCAB),
            Baseline(
                "nearest input embedding to the layer-1 state (no model)",
                measure=_get("sipit", "nearest_embedding"),
            ),
        ),
        seeds=SEEDS,
        seconds=237.0,  # measured: 79 cpu-s per seed (3 seeds)
        make_runs=_cell("sipit", SIPIT_PARAMS),
        measure=_get("sipit", "recovered"),
    ),
    "platonic_smollm2_minilm": Claim(
        name="platonic_smollm2_minilm",
        title="The Platonic Representation Hypothesis",
        statement="a causal LM (SmolLM2) and a sentence encoder (MiniLM) see the same "
        "neighbourhoods of sentences",
        effect="mutual k-NN alignment (k=10) between independently trained models lies well above chance and "
        "grows with competence (language-language and language-vision scores of ~0.1-0.3 at N=1024, "
        "chance ~0.01)",
        metric="mutual 10-NN alignment of mean-pooled SmolLM2 layer 20 and MiniLM last layer on 300 "
        "Lee sentences, first 16 tokens "
        "(a fresh sample per seed)",
        direction="higher",
        threshold=0.10,  # three times chance (10/299 = 0.033)
        null=10 / 299,
        control=Control(
            "SmolLM2 layer 20 vs its own layer 21 (same model, adjacent layers)",
            0.5,
            _get("platonic", "self_next_layer"),
        ),
        baselines=(
            Baseline("chance k/(N-1)", value=10 / 299),
            Baseline("shuffled pairing (same features)", measure=_get("platonic", "shuffled")),
        ),
        seeds=SEEDS,
        seconds=72.0,  # measured: cpu seconds of the 3 cells (28 + 22 + 22)
        make_runs=_cell("platonic", PLATONIC_PARAMS),
        measure=_get("platonic", "alignment"),
    ),
    "intermediate_layer_probe": Claim(
        name="intermediate_layer_probe",
        title="Does Representation Matter? Exploring Intermediate Layers in Large Language Models",
        statement="an intermediate layer of SmolLM2 gives a better downstream linear probe than the "
        "last layer",
        effect="intermediate layers often yield more informative representations for downstream "
        "tasks than the "
        "final layer (gains of several accuracy points on MTEB-style tasks)",
        metric="5-fold accuracy of a ridge sentiment probe on mean-pooled SmolLM2 states (200 movie-review "
        "sentences), layer chosen by inner CV on the training folds, minus the last layer's accuracy",
        direction="higher",
        threshold=0.03,
        null=0.0,
        control=Control(
            "best layer's sentiment accuracy (the probe learns)", 0.7, _get("intermediate", "best_accuracy")
        ),
        baselines=(Baseline("no layer effect (last layer)", value=0.0),),
        seeds=SEEDS,
        seconds=69.0,  # measured: 64 cpu-s for seed 0 (states computed once per process) + 2 + 2
        make_runs=_cell("intermediate", INTERMEDIATE_PARAMS),
        measure=_get("intermediate", "gain"),
        details=_picks,
    ),
}


# -- r4-probeb: onion representations, selective-SSM length gap, representation flow ---------------
ONION_PARAMS = {"symbols": 10, "length": 6, "hidden": 16, "steps": 3000, "lr": 5e-3, "probe_steps": 300}
LENGTH_GAP_PARAMS = {
    "lengths": [9, 17, 33, 65],
    "n_train": 128,
    "n_test": 1000,
    "d_model": 16,
    "d_state": 8,
    "steps": 150,
    "lr": 1e-2,
}
FLOW_PARAMS = {
    "d_model": 32,
    "n_layers": 4,
    "steps": 300,
    "batch": 32,
    "length": 64,
    "lr": 3e-3,
    "n_eval": 64,
    "probe_lag": 1,
}


def _per_seed(run: str, fmt):
    """A ``details`` function: ``fmt(result)`` of run ``run`` for every seed, joined."""
    return lambda res: "; ".join(f"seed {seed}: {fmt(r[run])}" for seed, r in sorted(res.items()))


def _rounded(v, digits=3) -> list:
    return [round(a, digits) for a in v]


_length_details = _per_seed(
    "length_gap",
    lambda x: f"mamba gaps {_rounded(x['mamba_gap'])}, per-position readout {_rounded(x['flat_gap'])}, "
    f"attention+learned positions {_rounded(x['attention_ape_gap'])} (slope {x['attention_ape_slope']:.3f})",
)
_flow_details = _per_seed(
    "flow",
    lambda x: f"token similarity ssm {_rounded(x['ssm_token_similarity'], 2)}, transformer "
    f"{_rounded(x['transformer_token_similarity'], 2)}, untrained gap {x['untrained_early_gap']:.3f}, bits "
    f"ssm {x['ssm_bits']:.2f} / transformer {x['transformer_bits']:.2f} (unigram {x['unigram_bits']:.2f})",
)
_onion_details = _per_seed(
    "rnn_repeat",
    lambda x: f"onion {_rounded(x['onion_per_position'], 2)}, linear "
    f"{_rounded(x['linear_per_position'], 2)}, gamma {_rounded(x['gamma'], 2)}, "
    f"intervention success {x['intervention_success']:.3f}",
)


CLAIMS.update(
    {
        "rnn_onion_probe": Claim(
            name="rnn_onion_probe",
            title="Recurrent Neural Networks Learn to Store and Generate Sequences using Non-Linear "
            "Representations",
            statement="a small GRU trained to repeat its input stores the tokens by magnitude: a probe that "
            "peels magnitude layers decodes them from the delimiter state better than a linear probe",
            effect="the smallest GRUs (hidden 48) store the token of each position at its own order of "
            "magnitude; linear (subspace) interventions fail on them while onion (scaling) interventions "
            "succeed (near-perfect for the smallest models)",
            metric="mean over 6 positions of the onion probe's held-out token accuracy minus a ridge linear "
            "probe's, GRU hidden 16, 10 symbols, state after the delimiter, probes fit on 2000 sequences",
            direction="higher",
            threshold=0.10,
            null=0.0,
            control=Control(
                "the GRU solves the repeat task (held-out per-token accuracy)",
                0.95,
                _get("rnn_repeat", "task_accuracy"),
            ),
            baselines=(Baseline("no difference between the probes", value=0.0),),
            seeds=SEEDS,
            seconds=61.0,  # measured: cpu seconds of the 3 cells (20.8 + 20.0 + 19.9)
            make_runs=_cell("rnn_repeat", ONION_PARAMS),
            measure=_get("rnn_repeat", "gap"),
            details=_onion_details,
        ),
        "selective_ssm_length_gap": Claim(
            name="selective_ssm_length_gap",
            title="Generalization Error Analysis for Selective State-Space Models Through the Lens of "
            "Attention",
            statement="the generalization gap of a stable selective SSM does not grow with the sequence "
            "length",
            effect="a covering-number bound on the generalization gap of selective SSMs that does not depend "
            "on the length T when the state matrix is stable (spectral abscissa < 0); majority, IMDb and "
            "ListOps gaps stay flat across lengths",
            metric="least-squares slope of the train - test accuracy gap against log2 T (per doubling), "
            "1-layer Mamba d 16 on majority, T = 9, 17, 33, 65, 128 training sequences per length",
            direction="lower",
            threshold=0.02,  # at most 2 accuracy points per doubling (6 over the 7x range)
            null=0.05,  # a gap growing 5 points per doubling, as a length-dependent bound permits
            control=Control(
                "Mamba fits its training set at every length (min train accuracy)",
                0.95,
                _get("length_gap", "min_mamba_train"),
            ),
            baselines=(
                Baseline(
                    "per-position linear readout (2T weights, same data)",
                    measure=_get("length_gap", "flat_slope"),
                ),
            ),
            seeds=SEEDS,
            seconds=114.0,  # measured: cpu seconds of the 3 cells (42.5 + 36.9 + 34.6)
            make_runs=_cell("length_gap", LENGTH_GAP_PARAMS),
            measure=_get("length_gap", "mamba_slope"),
            details=_length_details,
        ),
        "ssm_transformer_flow": Claim(
            name="ssm_transformer_flow",
            title="A Comparative Analysis of Contextual Representation Flow in State-Space and Transformer "
            "Architectures",
            statement="a transformer homogenises the tokens of a sequence in its early layers more than an "
            "SSM of the same size",
            effect="transformers rapidly homogenise token representations (high token-token similarity in "
            "early layers, diversity re-emerging late) while SSMs preserve token uniqueness early and "
            "homogenise deeper",
            metric="mean token-token cosine similarity within held-out windows, transformer minus Mamba, "
            "averaged over blocks 1-2 of 4 (d 32 character LMs on the Lee corpus, same batches)",
            direction="higher",
            threshold=0.10,
            null=0.0,
            control=Control(
                "both models learn the language (worst test bits/char over unigram entropy <= 0.85)",
                0.85,
                _get("flow", "worst_bits_ratio"),
                direction="lower",
            ),
            baselines=(
                Baseline("no difference", value=0.0),
                Baseline(
                    "the same difference at the embeddings (layer 0)", measure=_get("flow", "embedding_gap")
                ),
            ),
            seeds=SEEDS,
            seconds=289.0,  # measured: cpu seconds of the 3 cells (97.5 + 94.6 + 96.5)
            make_runs=_cell("flow", FLOW_PARAMS),
            measure=_get("flow", "early_gap"),
            details=_flow_details,
        ),
    }
)
