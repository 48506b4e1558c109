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
