"""Judgement of TIMeSynC (arXiv 2410.12825), built in seqlab.recsys.timesync* (merged into
``seqlab.papers.status``)."""

from __future__ import annotations

from seqlab.papers.status import PARTIAL, Judgement

STATUS = {
    "TIMeSynC: Temporal Intent Modelling with Synchronized Context Encodings for Financial Service "
    "Applications": Judgement(
        PARTIAL,
        "recommender timesync: a fast per-rating stream and any of two slow streams (15-minute genre "
        "windows; days: rating count, time of day, genres), each GRU-encoded and synchronised by timestamp "
        "(an event sees only windows completed by its time), causal attention encoder, next-intent (genre) "
        "head starting at the prior; recommender timesync_seq2seq: the encoder-decoder that decodes the "
        "next K intents autoregressively (causal self-attention over earlier intents, cross-attention to "
        "encoder states up to the event; K = 1 is the one-step model); single-stream baseline; claims "
        "timesync_synchronized_streams_v2 and timesync_three_streams (inconclusive: no gain, wide interval) "
        "and timesync_encoder_decoder (failed), each with its control met (round 4's "
        "timesync_synchronized_streams failed on a model that predicted the prior); missing: the paper's "
        "financial multi-domain data and static (tabular) context, its TimeAliBi attention bias, "
        "multi-dimensional time encoder and field-name embeddings (domains here are slow streams fused "
        "into the event sequence, not flattened tokens)",
    ),
}
