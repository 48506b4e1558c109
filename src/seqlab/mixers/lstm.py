"""LSTM mixer: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 1997, with
the forget gate of Gers et al. 2000; catalogued in arXiv 1506.00019. For hidden size ``H``::

    i, f, g, o = sigma, sigma, tanh, sigma (W_i x_t + b_i + W_h h_{t-1} + b_h)
    c_t = f * c_{t-1} + i * g,            h_t = o * tanh(c_t),          y_t = W_o h_t

State ``(h, c)``, each ``(batch, n_layers, H)``; the modes come from
:class:`~seqlab.mixers.recurrent_base.RecurrentMixer`.
"""

from __future__ import annotations

from seqlab.mixers.recurrent_base import CATALOG_TITLE, MODES_INFO, RecurrentMixer
from seqlab.registry import register


@register(
    "mixer",
    "lstm",
    papers=[CATALOG_TITLE],
    state="(h, c) per layer",
    cites="Long Short-Term Memory, Hochreiter & Schmidhuber, Neural Computation 1997",
    modes=MODES_INFO,
)
class LSTM(RecurrentMixer):
    """LSTM mixer (arXiv 1506.00019): c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t), y_t = W_o h_t."""

    kind = "lstm"
    state_size = "2 * n_layers * d_hidden"
