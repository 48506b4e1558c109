"""Judgements of the embed-models papers (pooling, KV-Embedding, DenoSent, Nugget, retrieval)."""

from seqlab.papers.status import IMPLEMENTED, PARTIAL, Judgement

STATUS = {
    "LMK > CLS: Landmark Pooling for Dense Embeddings": Judgement(
        PARTIAL,
        "lmk_pooling: landmark tokens after every chunk, their states mean-pooled, over seqlab.lm encoders "
        "and SequenceModel (placement tested); claim lmk_long_passages on frozen MiniLM; contrastive "
        "training of a SequenceModel with CLS / mean / LMK pooling (seqlab.embed.lmk_train, toy-task tests); "
        "claims lmk_trained_long_inputs (150 steps) and lmk_trained_long_inputs_v2 (1500 steps) with them "
        "on 8x longer inputs; missing: the paper's "
        "variable-interval chunking during fine-tuning and its pretrained-encoder scale",
    ),
    "KV-Embedding: Training-free Text Embedding via Internal KV Re-routing in Decoder-only LLMs": Judgement(
        IMPLEMENTED,
        "kv_embedding: last-token KV prepended as a prefix in seqlab's own LLaMA forward (SmolLM2), layers "
        "chosen by TwoNN intrinsic dimension, compression prompt, mean+last pooling; claim kv_embedding_lee",
    ),
    "DenoSent: A Denoising Objective for Self-Supervised Sentence Representation Learning": Judgement(
        IMPLEMENTED,
        "denosent: deletion + local-shuffle and embedding dropout/Gaussian noise, a decoder reconstructing "
        "the clean sentence from the pooled vector, in-batch contrastive term; small encoder trained on the "
        "Lee sentences (the paper fine-tunes BERT)",
    ),
    "Nugget: Neural Agglomerative Embeddings of Text": Judgement(
        IMPLEMENTED,
        "nugget: scorer picks ceil(ratio * n) token states, scores added to the decoder's cross-attention "
        "logits, trained by autoencoding (the paper's machine-translation training is not run)",
    ),
    "End-to-End Retrieval in Continuous Space": Judgement(
        IMPLEMENTED,
        "dual_encoder (averaged word embeddings + linear, in-batch softmax) with exact or faiss (flat/HNSW) "
        "search vs bm25 over an inverted index; MAP and recall@k on Lee first/second-half retrieval; claim "
        "continuous_retrieval_vs_bm25 (papers/claims_embed_misc.py)",
    ),
}
