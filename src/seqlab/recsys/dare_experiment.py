"""Experiment cell ``recsys.dare_coupling``: DARE's decoupled embeddings vs one shared table.

"Long-Sequence Recommendation Models Need Decoupled Embeddings" (arXiv 2410.02604) argues that one
embedding table serving both the attention (retrieval of relevant behaviours) and the representation
(what is aggregated) has conflicting gradients, and that two separate tables help. The cell trains
:class:`seqlab.recsys.dare.DARE` twice on MovieLens-100K's leave-one-out split with the same settings
and dimensions (``d_att = d_repr``), once decoupled and once coupled (``A = R``), plus the popularity
recommender as the trivial baseline, and evaluates each on the test targets (full ranking, NDCG@10).
"""

from __future__ import annotations

from seqlab.experiments.cell import experiment
from seqlab.recsys.base import evaluate
from seqlab.recsys.experiments import build, load_split

DARE_COUPLING_DEFAULTS = {"d": 32, "users": None}


@experiment("recsys.dare_coupling")
def dare_coupling(params: dict, seed: int) -> dict:
    """NDCG@10 / Recall@10 of decoupled DARE, coupled DARE and popularity on one seed."""
    import torch

    torch.set_num_threads(1)
    p = {**DARE_COUPLING_DEFAULTS, **params}
    split = load_split("ml-100k", p["users"])
    out = {}
    arms = {
        "decoupled": dict(d_att=p["d"], d_repr=p["d"], decoupled=True),
        "coupled": dict(d_att=p["d"], d_repr=p["d"], decoupled=False),
    }
    for arm, cfg in arms.items():
        model = build("dare", seed, **cfg)
        model.fit(split)
        row = evaluate(model, split)
        out[f"ndcg10_{arm}"] = float(row["ndcg@10"])
        out[f"recall10_{arm}"] = float(row["recall@10"])
    pop = build("popularity", seed)
    pop.fit(split)
    row = evaluate(pop, split)
    out["ndcg10_popularity"] = float(row["ndcg@10"])
    out["gain_ndcg10"] = out["ndcg10_decoupled"] - out["ndcg10_coupled"]
    return out
