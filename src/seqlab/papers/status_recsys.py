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
        "evaluation and the linear-projection baselines; claim dare_decoupled_embeddings "
        "(claims_recsys_dare: decoupled vs one shared table, ml-100k NDCG@10)",
    ),
    "UniRec: A Dual Enhancement of Uniformity and Frequency in Sequential Recommendations": Judgement(
        PARTIAL,
        "recommender unirec: multidimensional time module (log-interval buckets, hour, weekday), "
        "non-uniformity = std of log gaps with the median split, uniform windows perturbed by item dropout "
        "with a consistency loss, tail items enhanced by a learned aggregate of co-occurrence neighbours "
        "trained on head items; tested against direct formulas; claim unirec_vs_sasrec on MovieLens-100K "
        "(all / non-uniform / tail users); missing: the paper's exact augmentation operators, its "
        "bidirectional mutual-enhancement schedule and its four Amazon/Yelp data sets",
    ),
    "Representation, Exploration and Recommendation of Music Playlists": Judgement(
        PARTIAL,
        "recommender playlist: GRU seq2seq autoencoder over item sequences (users' histories cut into "
        "playlists), the bottleneck as the playlist embedding, bag-of-items and untrained-encoder "
        "baselines, ridge probes (dominant genre, popularity, length, order) and recommendation by "
        "nearest playlist; claim playlist_seq2seq_probes; missing: music data (Spotify/8tracks, audio "
        "features), the paper's attention and hierarchical variants and the exploration (t-SNE) study",
    ),
}
