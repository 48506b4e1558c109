"""Paper judgement of Recformer (recsys module; merged into ``seqlab.papers.status``)."""

from __future__ import annotations

from seqlab.papers.status import IMPLEMENTED, Judgement

STATUS = {
    "Text Is All You Need: Learning Language Representations for Sequential Recommendation": Judgement(
        IMPLEMENTED,
        "recommender recformer: items as flattened key-value text (title/genre/year, MiniLM WordPiece "
        "tokens), token + position + item-position + token-type embeddings, bidirectional encoder read at "
        "a leading [CLS] over the items most recent first (bidirectional=True; full attention with the "
        "padding masked -- the paper allows any bidirectional transformer and uses Longformer only for "
        "long inputs, so its windowed attention is not built), items encoded by the same model, cosine "
        "scores; pre-training with BERT-style MLM over the item-text tokens + item-item contrastive loss "
        "with in-batch negatives (L_IIC + 0.1 L_MLM); two-stage fine-tuning with the full-softmax loss "
        "against the item feature table, re-encoded every epoch in stage 1 and frozen in stage 2, best "
        "epoch by validation; each tested against direct formulas; claims recformer_cold_start and "
        "recformer_pretraining on MovieLens-100K. Not reproduced: its Amazon corpora (seven-category "
        "pre-training, six fine-tuning domains) and so its cross-domain zero-shot transfer, and its "
        "Longformer-initialised weights (pre-training here uses the same MovieLens training histories)",
    ),
}
