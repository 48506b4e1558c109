"""GRU mixer: "Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine
Translation", arXiv 1406.1078; catalogued in arXiv 1506.00019. For hidden size ``H``::

    r, z = sigma(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z})
    n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn)),   h_t = (1 - z) * n + z * h_{t-1},   y_t = W_o h_t

State ``h (batch, n_layers, H)``; the modes come from :class:`~seqlab.mixers.recurrent_base.RecurrentMixer`.
"""

from __future__ import annotations

from seqlab.mixers.recurrent_base import CATALOG_TITLE, RecurrentMixer
from seqlab.registry import Paper, register


@register(
    "mixer",
    "gru",
    implements=Paper(
        "Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine Translation",
        "1406.1078",
    ),
    used_by=[CATALOG_TITLE],
)
class GRU(RecurrentMixer):
    """GRU mixer (arXiv 1506.00019, 1406.1078): h_t = (1 - z) * n + z * h_{t-1}, y_t = W_o h_t."""

    kind = "gru"
