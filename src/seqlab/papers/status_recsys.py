"""Paper judgements of the recsys module (merged into ``seqlab.papers.status``)."""

from __future__ import annotations

from seqlab.papers.status import PARTIAL, Judgement

STATUS = {
    "Generative Recommendation with Semantic IDs: A Practitioner's Handbook": Judgement(
        PARTIAL,
        "recommender grid: MiniLM item-text embeddings -> semantic IDs (residual k-means or RQ-VAE, "
        "disambiguation digit or shared IDs), a causal attention model over ID tokens trained on user "
        "histories, constrained beam search over the trie of valid (unseen) IDs, Recall/NDCG@10/20 by "
        "full ranking on MovieLens-100K against popularity, SASRec and GRU4Rec (claim "
        "grid_constrained_beam); "
        "ablations of levels, collision policy and ID construction (recsys.grid_ablation); missing: the "
        "handbook's encoder-decoder (T5) backbone and user token, its Amazon data sets and its other "
        "ablations (sampling of training windows, SID embedding choices, larger LLM encoders)",
    ),
    "Long-Sequence Recommendation Models Need Decoupled Embeddings": Judgement(
        PARTIAL,
        "recommender dare: separate attention and representation tables, top-k search by attention-table "
        "relevance then softmax aggregation of representation embeddings, target-aware MLP, sampled-negative "
        "BCE; the coupled single-table baseline (decoupled=False); tested against direct formulas and on a "
        "learnable synthetic task; missing: the paper's long-sequence data (Taobao, Tmall), AUC/GAUC "
        "evaluation, the linear-projection baselines and any claim run",
    ),
}
