"""Judgements of the two PixelBytes reports (seqlab.embed.pixelbytes)."""

from seqlab.papers.status import PARTIAL, Judgement

STATUS = {
    "PixelBytes: Catching Unified Embedding for Multimodal Generation": Judgement(
        PARTIAL,
        "pixelbytes: one byte + pixel-level vocabulary over caption + MNIST-digit sequences, the PxBy "
        "embedding (3x3 context window of tokens, per-cell embedding, 3x3 convolution, sigmoid-gated mix, "
        "projection, LayerNorm) with a causal window, an LSTM over it, greedy generation scored by Hamming "
        "agreement; missing: the report's bidirectional models, its SSM and attention backbones, the "
        "cosine / BLEU generation metrics and its Pokemon dataset (not offline)",
    ),
    "PixelBytes: Catching Unified Representation for Multimodal Generation": Judgement(
        PARTIAL,
        "pixelbytes: the same PxBy LSTM in predictive (next token) and autoregressive (next context window, "
        "output of the input's form) modes, compared on held-out sequences in claim "
        "pixelbytes_autoregressive; missing: audio and action-state tokens, the optimal-control data set "
        "and the diffusion variant",
    ),
}
