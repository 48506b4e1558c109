"""SASRec ("Self-Attentive Sequential Recommendation", Kang & McAuley, arXiv 1808.09781) as a seqlab model.

The paper's architecture: item embedding ``M_i`` plus a learned position embedding, ``b`` blocks of
causal single-head self-attention and a point-wise feed-forward network (residual, layer norm,
dropout), and the score of item ``i`` after prefix ``t`` is ``r_{i,t} = F_t . M_i`` with the input
item embedding shared as the output layer. Here: ``SequenceModel(mixer="attention")`` with
``pos_enc="learned"`` (no rotary positions inside attention), 2 blocks, ``d = 64``, 1 head, dropout
0.2, the head's weight tied to the item embedding. Loss: cross-entropy over all items (see
:mod:`seqlab.recsys.sequential`); the paper's one-negative binary cross-entropy is not used.
"""

from __future__ import annotations

from torch import nn

from seqlab.models import SequenceModel
from seqlab.recsys.sequential import NextItemRecommender
from seqlab.registry import Paper, register

SASREC = Paper("Self-Attentive Sequential Recommendation", "1808.09781")
GRID_TITLE = "Generative Recommendation with Semantic IDs: A Practitioner's Handbook"


@register("recommender", "sasrec", implements=SASREC, used_by=[GRID_TITLE])
class SASRec(NextItemRecommender):
    """Causal self-attention over the last ``max_len`` items; scores ``F_t . M_i``."""

    def __init__(self, d_model: int = 64, n_layers: int = 2, n_heads: int = 1, dropout: float = 0.2, **train):
        super().__init__(**train)
        self.d_model, self.n_layers, self.n_heads, self.dropout = d_model, n_layers, n_heads, dropout

    def build(self, vocab: int) -> SequenceModel:
        model = SequenceModel(
            mixer="attention",
            d_model=self.d_model,
            n_layers=self.n_layers,
            vocab_size=vocab,
            pos_enc="learned",
            max_len=self.max_len,
            dropout=self.dropout,
            mixer_cfg={"n_heads": self.n_heads, "pos": "none"},
            mlp_ratio=1.0,
        )
        nn.init.normal_(model.embed.weight, std=0.02)  # small init: scores F . M_i start near uniform
        model.head.weight = model.embed.weight  # shared item embedding M (the paper's r = F . M_i)
        return model
