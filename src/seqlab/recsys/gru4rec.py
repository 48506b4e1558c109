"""GRU4Rec ("Session-based Recommendations with Recurrent Neural Networks", Hidasi et al.,
arXiv 1511.06939) as a seqlab model.

The paper: item ids embedded (it also allows one-hot input), a GRU layer, and a feed-forward output
scoring every item after each event; trained with session-parallel mini-batches and a ranking loss
(BPR / TOP1) over sampled negatives. Here: ``SequenceModel(mixer="gru")``, one GRU layer of
``d = 64`` inside seqlab's pre-norm block, the output layer scoring all items, trained with
cross-entropy over all items on padded windows of each user's history (as RecBole's GRU4Rec does);
the session-parallel batching and the sampled ranking losses are not used.
"""

from __future__ import annotations

from seqlab.models import SequenceModel
from seqlab.recsys.sequential import NextItemRecommender
from seqlab.registry import Paper, register


@register(
    "recommender",
    "gru4rec",
    implements=Paper("Session-based Recommendations with Recurrent Neural Networks", "1511.06939"),
)
class GRU4Rec(NextItemRecommender):
    """A GRU over the last ``max_len`` items; linear scores over the catalogue."""

    def __init__(self, d_model: int = 64, n_layers: int = 1, dropout: float = 0.2, **train):
        super().__init__(**train)
        self.d_model, self.n_layers, self.dropout = d_model, n_layers, dropout

    def build(self, vocab: int) -> SequenceModel:
        return SequenceModel(
            mixer="gru",
            d_model=self.d_model,
            n_layers=self.n_layers,
            vocab_size=vocab,
            dropout=self.dropout,
            mlp_ratio=0.0,
        )
