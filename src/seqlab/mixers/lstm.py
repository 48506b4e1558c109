"""LSTM mixer: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 1997, with
the forget gate of Gers et al. 2000; catalogued in arXiv 1506.00019. For hidden size ``H``::

    i, f, g, o = sigma, sigma, tanh, sigma (W_i x_t + b_i + W_h h_{t-1} + b_h)
    c_t = f * c_{t-1} + i * g,            h_t = o * tanh(c_t),          y_t = W_o h_t

State ``(h, c)``, each ``(batch, n_layers, H)``; the modes come from
:class:`~seqlab.mixers.recurrent_base.RecurrentMixer`.
"""

from __future__ import annotations

from seqlab.mixers.recurrent_base import CATALOG_TITLE, RecurrentMixer
from seqlab.registry import Paper, register


@register(
    "mixer",
    "lstm",
    implements=Paper("Long Short-Term Memory", venue="Neural Computation 9(8), 1997"),
    used_by=[CATALOG_TITLE],
)
class LSTM(RecurrentMixer):
    """LSTM mixer (arXiv 1506.00019): c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t), y_t = W_o h_t."""

    kind = "lstm"
    state_size = "2 * n_layers * d_hidden"
