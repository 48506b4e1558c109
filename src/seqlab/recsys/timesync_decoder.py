"""TIMeSynC's encoder-decoder: the next ``K`` intents decoded autoregressively.

"TIMeSynC: Temporal Intent Modelling with Synchronized Context Encodings for Financial Service
Applications" (arXiv 2410.12825) pairs its synchronised multi-stream encoder with a transformer decoder
that emits the user's future intents one after another. Here, with ``T_k`` the multi-hot genres of the
item ``k`` steps after event ``j`` and ``h_1..h_j`` the encoder states (:class:`TIMeSynCModel.encode`):

- intent 1 is the encoder's own head, ``z_1 = head(h_j)`` -- with ``K = 1`` the model *is*
  :class:`~seqlab.recsys.timesync.TIMeSynC`;
- intents ``k = 2..K`` come from one decoder block over the queries
  ``u_k = h_j + P[k] + W_y y_{k-1}``: causal self-attention over ``u_2..u_k`` (so step ``k`` reads
  ``y_1..y_{k-1}`` and nothing later), cross-attention to ``h_1..h_j`` (never to encoder states after
  ``j``), an MLP, each pre-norm and residual, then the shared head: ``z_k = head(LN(o_k))``.

Training uses teacher forcing, ``y_k = T_k``, and binary cross-entropy over every (position, step)
whose future item exists in the training history. Inference is autoregressive: ``y_k = sigmoid(z_k)``,
the model's expected multi-hot for step ``k``, fed to step ``k + 1``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.recsys.timesync import TIMESYNC_TITLE, TIMeSynC, TIMeSynCModel
from seqlab.registry import Paper, register


class IntentDecoder(nn.Module):
    """One pre-norm decoder block (causal self-attention, cross-attention, MLP) for intents 2..K."""

    def __init__(self, num_genres: int, d_model: int, horizon: int, dropout: float = 0.1):
        super().__init__()
        self.horizon = horizon
        self.intent_in = nn.Linear(num_genres, d_model)
        self.step = nn.Embedding(max(horizon - 1, 1), d_model)
        self.norm_self, self.norm_cross, self.norm_mlp, self.norm_out = (
            nn.LayerNorm(d_model) for _ in range(4)
        )
        self.self_qkv = nn.Linear(d_model, 3 * d_model)
        self.self_out = nn.Linear(d_model, d_model)
        self.cross_q = nn.Linear(d_model, d_model)
        self.cross_kv = nn.Linear(d_model, 2 * d_model)
        self.cross_out = nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """Decoder outputs ``(B, L, K - 1, d)`` for steps 2..K at every encoder position ``j``.

        ``h`` (B, L, d) encoder states; ``prev`` (B, L, K - 1, G): ``y_1..y_{K-1}`` at each position."""
        B, L, d = h.shape
        S = prev.shape[2]
        u = h[:, :, None] + self.step.weight[:S] + self.intent_in(prev)  # (B, L, S, d)
        # causal self-attention over the steps of each position
        q, k, v = self.self_qkv(self.norm_self(u)).reshape(B * L, S, 3, d).unbind(2)
        causal = torch.ones(S, S, dtype=torch.bool, device=h.device).tril()
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=causal)
        u = u + self.drop(self.self_out(a.reshape(B, L, S, d)))
        # cross-attention: the queries of position j read encoder states i <= j only
        q = self.cross_q(self.norm_cross(u)).reshape(B, L * S, d)
        k, v = self.cross_kv(h).chunk(2, dim=-1)
        pos = torch.arange(L, device=h.device)
        visible = (pos[None, :] <= pos[:, None]).repeat_interleave(S, dim=0)  # (L * S, L)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=visible)
        u = u + self.drop(self.cross_out(a.reshape(B, L, S, d)))
        u = u + self.drop(self.mlp(self.norm_mlp(u)))
        return self.norm_out(u)


class TIMeSynCSeq2SeqModel(nn.Module):
    """:class:`TIMeSynCModel` (encoder and intent 1) + :class:`IntentDecoder` (intents 2..K)."""

    def __init__(self, encoder: TIMeSynCModel, horizon: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.horizon = horizon
        g, d = encoder.genres.shape[1], encoder.items.embedding_dim
        self.decoder = IntentDecoder(g, d, horizon, dropout) if horizon > 1 else None

    @property
    def backbone(self):
        """The encoder's backbone (its ``head`` is the intent head of every step)."""
        return self.encoder.backbone

    def forward(self, items, buckets, slow=(), sync=(), prev=None) -> torch.Tensor:
        """Logits ``(B, L, K, G)`` of intents 1..K at every position, given ``prev`` (B, L, K - 1, G)
        the intents fed to steps 2..K (teacher forcing: the true ``T_1..T_{K-1}``)."""
        h = self.encoder.encode(items, buckets, slow, sync)
        head = self.encoder.backbone.head
        first = head(h)[:, :, None]
        if self.decoder is None:
            return first
        want = (*items.shape, self.horizon - 1, self.encoder.genres.shape[1])
        if prev is None or tuple(prev.shape) != want:
            got = None if prev is None else tuple(prev.shape)
            raise ValueError(f"prev must hold the intents fed to steps 2..K, shape {want}, got {got}")
        return torch.cat([first, head(self.decoder(h, prev))], 2)


@register(
    "recommender",
    "timesync_seq2seq",
    implements=Paper(TIMESYNC_TITLE, "2410.12825"),
    used_by=[TIMESYNC_TITLE],
)
class TIMeSynCSeq2Seq(TIMeSynC):
    """TIMeSynC's encoder-decoder over the next ``horizon`` intents (module docstring).

    Same streams and training settings as :class:`TIMeSynC`; ``intents`` returns ``(users, K, G)``;
    ``intent`` and (through it) ``scores`` use intent 1."""

    def __init__(self, horizon: int = 3, streams: str = "three", **kwargs):
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon must be an int >= 1 (future intents), got {horizon!r}")
        super().__init__(streams=streams, **kwargs)
        self.horizon = horizon

    def _new_model(self, split) -> nn.Module:
        encoder = super()._new_model(split)  # same initial encoder weights as TIMeSynC (same seed)
        return TIMeSynCSeq2SeqModel(encoder, self.horizon, self.dropout)

    def _logits(self, batch, targets) -> torch.Tensor:
        prev = self.genres[targets[:, :, : self.horizon - 1]]  # teacher forcing: T_1..T_{K-1}
        return self.model(*batch, prev=prev)

    @torch.no_grad()
    def intents(self, histories, times=None) -> torch.Tensor:
        """``(users, K, G)``: genre probabilities of the next ``K`` items, decoded autoregressively
        (step ``k + 1`` is fed step ``k``'s probabilities)."""
        batch, last = self._batch(histories, times)
        B, L = batch[0].shape
        G, K = self.genres.shape[1], self.horizon
        prev = torch.zeros(B, L, max(K - 1, 0), G)
        rows = torch.arange(B)
        out = torch.zeros(B, K, G)
        for k in range(K):
            p = torch.sigmoid(self.model(*batch, prev=prev if K > 1 else None)[rows, last, k])
            out[:, k] = p
            if k < K - 1:
                prev[rows, last, k] = p
        return out

    @torch.no_grad()
    def intent(self, histories, times=None) -> torch.Tensor:
        batch, last = self._batch(histories, times)
        return torch.sigmoid(self.model.encoder(*batch)[torch.arange(len(last)), last])
