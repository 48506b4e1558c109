"""Judgements of the reason module's papers (merged into :mod:`seqlab.papers.status`)."""

from __future__ import annotations

from seqlab.papers.status import IMPLEMENTED, PARTIAL, Judgement

STATUS = {
    "Training Large Language Models to Reason in a Continuous Latent Space": Judgement(
        IMPLEMENTED,
        "reasoner coconut: last hidden state fed back as the next input embedding, staged curriculum "
        "(k steps -> c*k thoughts), BFS reading of a thought through the model's head; task prosqa "
        "(tests/reason, tests/tasks/test_reasoning_tasks.py); small models trained here, not GPT-2",
    ),
    "Reasoning by Superposition: A Theoretical Perspective on Chain of Continuous Thought": Judgement(
        PARTIAL,
        "reasoner superposition: 2-layer transformer with D continuous thoughts on task reachability, "
        "projection of each thought on the node embeddings (frontier vs other nodes); missing: the "
        "paper's explicit weight construction (the proof's attention chooser and buffers)",
    ),
    "Continuous Chain of Thought Enables Parallel Exploration and Reasoning": Judgement(
        PARTIAL,
        "reasoner cot2: continuous tokens softmax(logits) @ E, multi-trace supervision on task "
        "subset_sum (MNNS / subset sum), K-token sampling (K=1 equals discrete CoT, tested); missing: "
        "the policy-optimisation stage (GRPO over K-token / Dirichlet sampling)",
    ),
    "Parallel Continuous Chain-of-Thought with Jacobi Iteration": Judgement(
        PARTIAL,
        "reasoner pccot: all thoughts updated in parallel for T Jacobi iterations (T = n reproduces "
        "sequential thoughts, tested), task arithmetic; missing: the CODI-style distillation objective "
        "the paper trains with, and pretrained-LM scale (GSM8K)",
    ),
}

# == r4-reasonb ===================================================================================
_CCDD = "Coevolutionary Continuous Discrete Diffusion: Make Your Diffusion Language Model a Latent Reasoner"
STATUS.update(
    {
        "Auto-scaling Continuous Memory for GUI Agent": Judgement(
            PARTIAL,
            "reasoner continuous_memory: past trajectories encoded by the backbone itself with learned query "
            "vectors (Q-Former-style) into k embeddings each, retrieved by nearest task key, plugged into "
            "the policy's input layer; text memory (raw trajectory tokens at equal context) and no-memory "
            "arms; task grid_nav (tests/reason/test_continuous_memory.py, tests/tasks/test_grid_nav.py); "
            "missing: the auto-scaling data flywheel (environment search, task synthesis, VLM "
            "verification), LoRA on a frozen VLM's Q-Former, real GUI benchmarks",
        ),
        "LLM Pretraining with Continuous Concepts": Judgement(
            PARTIAL,
            "reasoner cocomix: TopK SAE (seqlab.ops.sae) trained on SmolLM2 middle-layer states of the Lee "
            "corpus, concepts selected by attribution (code x gradient through the decoder), a small LM "
            "that predicts them and interleaves the compressed continuous concept with its hidden states; "
            "plain next-token control (tests/reason/test_cocomix.py); missing: the knowledge-distillation "
            "and pause-token comparisons, per-position (not per-chunk) attribution gradients, scale",
        ),
        _CCDD: (
            Judgement(
                PARTIAL,
                "reasoner ccdd: joint masked (absorbing) token diffusion + variance-preserving Gaussian "
                "diffusion of token codes at one shared time, one bidirectional denoiser predicting both, "
                "DDIM + unmasking sampler, discrete-only (masked diffusion) control "
                "(tests/reason/test_ccdd.py); missing: a pretrained LM's representation space as the "
                "continuous side, the paper's MDiT/MMDiT architectures and guidance, language-model scale",
            )
        ),
    }
)
