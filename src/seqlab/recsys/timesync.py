"""TIMeSynC ("TIMeSynC: Temporal Intent Modelling with Synchronized Context Encodings for Financial
Service Applications", arXiv 2410.12825): intent prediction from multi-rate streams aligned by time.

The paper encodes several event streams that arrive at different rates (and from different domains)
and synchronises them by timestamp before predicting a user's next intents. Built here from
MovieLens-100K's timestamps and genres:

- **fast stream** (one entry per rating): item ``i_j`` at time ``t_j``, embedded as
  ``e_j = E[i_j] + W_g g(i_j) + I[b(t_j - t_{j-1})]`` with ``g(i)`` the multi-hot genre vector of the
  item and ``b`` UniRec's log2 interval bucket;
- **slow streams** (:mod:`seqlab.recsys.timesync_streams`): one entry per completed time window in
  which the user was active -- ``"genres"`` (15-minute windows: genre histogram, count) and
  ``"activity"`` (days: count, time-of-day and genre histograms) -- each encoded causally by its own
  GRU into ``a^s_w``;
- **synchronisation**: event ``j`` is paired, in every slow stream ``s``, with the state of the last
  window *completed* by its time, ``c_s(j) = max{w : (w + 1) L_s <= t_j}`` (a learned ``a^s_none``
  when there is none), and the fused input ``x_j = e_j + sum_s W_s a^s_{c_s(j)}`` goes through a causal
  attention encoder. A window ends no later than ``t_j``, so no event after ``j`` (nor the target) is
  ever visible: the alignment is by timestamp, not by position;
- **intent**: the next item's genres, ``p = sigmoid(head(h_j))`` over the genre vocabulary, trained
  by binary cross-entropy at every position. The head's bias starts at the logit of the training
  genre frequencies (the prior), so the optimiser spends its steps on what the streams add.

``streams`` picks the slow streams: ``"single"`` (none: the single-stream baseline),
``"synchronized"`` (``"genres"``) or ``"three"`` (``"genres"`` and ``"activity"``). As a recommender
(``scores``), item ``i`` is ranked by ``log(1 + count_i) + log sum_{g in G(i)} p_g`` (popularity
within the predicted intent). The encoder-decoder over several future intents is
:class:`seqlab.recsys.timesync_decoder.TIMeSynCSeq2Seq`. Not here: the paper's financial data and
its TimeAliBi attention bias and multi-dimensional time encoder.

Why round 4's model predicted the prior: 6 epochs of batch 128 are about 110 Adam steps on
MovieLens-100K; from a zero-initialised head the training loss sat on the prior's binary
cross-entropy (0.2935 vs 0.2932) after the first epoch, every user got the marginal mode (Drama).
With the prior as the head's initial bias and batches of 32 (about 4x the steps) it leaves that
plateau (docs/recsys.md).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.models import SequenceModel
from seqlab.recsys.base import ScoringRecommender, check_histories, check_times
from seqlab.recsys.data import PAD, Split
from seqlab.recsys.recformer import item_attributes
from seqlab.recsys.timesync_streams import DAY, build_stream, slow_stream, stream_dim, synchronized_index
from seqlab.recsys.train import item_windows
from seqlab.recsys.unirec import INTERVAL_BUCKETS, interval_buckets
from seqlab.registry import Paper, register

__all__ = [
    "STREAM_SETS",
    "TIMeSynC",
    "TIMeSynCModel",
    "genre_matrix",
    "intent_hits",
    "slow_stream",
    "synchronized_index",
]

TIMESYNC_TITLE = (
    "TIMeSynC: Temporal Intent Modelling with Synchronized Context Encodings for Financial Service "
    "Applications"
)


def genre_matrix(item_text: list[str]) -> tuple[torch.Tensor, list[str]]:
    """``(num_items + 1, G)`` multi-hot genres from MovieLens item texts (row 0 = padding) and the
    genre names (sorted)."""
    genres = [item_attributes(t).get("genre", "").split() for t in item_text]
    names = sorted({g for gs in genres for g in gs})
    if not names:
        raise ValueError("no item text names a genre ('...; genres: a, b'): no intent to predict")
    col = {g: k for k, g in enumerate(names)}
    out = torch.zeros(len(item_text) + 1, len(names))
    for i, gs in enumerate(genres, start=1):
        for g in gs:
            out[i, col[g]] = 1.0
    return out, names


STREAM_SETS = {"single": (), "synchronized": ("genres",), "three": ("genres", "activity")}


class TIMeSynCModel(nn.Module):
    """Fast stream + any number of slow-stream encoders, time-synchronised fusion and the intent head.

    ``slow_dims``: the feature width of each slow stream (empty: the single fast stream)."""

    def __init__(
        self,
        vocab: int,
        genres: torch.Tensor,
        d_model: int = 32,
        n_layers: int = 1,
        max_len: int = 50,
        slow_dims: tuple[int, ...] = (),
        dropout: float = 0.1,
    ):
        super().__init__()
        g = genres.shape[1]
        self.register_buffer("genres", genres)
        self.items = nn.Embedding(vocab, d_model, padding_idx=PAD)
        self.genre_in = nn.Linear(g, d_model, bias=False)
        self.interval = nn.Embedding(INTERVAL_BUCKETS, d_model)
        self.slow_dims = tuple(int(d) for d in slow_dims)
        self.slow = nn.ModuleList(nn.GRU(d, d_model, batch_first=True) for d in self.slow_dims)
        self.none = nn.ParameterList(nn.Parameter(torch.zeros(d_model)) for _ in self.slow_dims)
        self.fuse = nn.ModuleList(nn.Linear(d_model, d_model) for _ in self.slow_dims)
        self.backbone = SequenceModel(
            mixer="attention",
            d_model=d_model,
            n_layers=n_layers,
            d_input=d_model,
            n_outputs=g,
            pos_enc="learned",
            max_len=max_len,
            dropout=dropout,
            mixer_cfg={"n_heads": 1, "pos": "none"},
            mlp_ratio=2.0,
        )

    def encode(self, items, buckets, slow=(), sync=()) -> torch.Tensor:
        """Encoder states ``h`` (B, L, d). ``slow[s]`` (B, W_s, D_s) right-padded windows of stream
        ``s``, ``sync[s]`` (B, L) the index into them of each event's last completed window (-1: none)."""
        if len(slow) != len(self.slow) or len(sync) != len(self.slow):
            raise ValueError(
                f"this model has {len(self.slow)} slow streams, got {len(slow)} window tensors and "
                f"{len(sync)} synchronisation indices"
            )
        x = self.items(items) + self.genre_in(self.genres[items]) + self.interval(buckets)
        for gru, none, fuse, z, c in zip(self.slow, self.none, self.fuse, slow, sync, strict=True):
            a, _ = gru(z)  # causal over windows: a_w sees windows <= w only
            a = torch.cat([none.expand(a.shape[0], 1, -1), a], 1)  # index 0 = none
            ctx = a.gather(1, (c + 1).clamp(min=0)[..., None].expand(-1, -1, a.shape[-1]))
            x = x + fuse(ctx)
        return self.backbone.features(x)

    def forward(self, items, buckets, slow=(), sync=()) -> torch.Tensor:
        """Intent logits (B, L, G) at every position."""
        return self.backbone.head(self.encode(items, buckets, slow, sync))


@register("recommender", "timesync", implements=Paper(TIMESYNC_TITLE, "2410.12825"), used_by=[TIMESYNC_TITLE])
class TIMeSynC(ScoringRecommender):
    """Next-intent (genre) model over time-synchronised fast and slow streams (module docstring)."""

    uses_times = True
    horizon = 1  # future intents predicted per position

    def __init__(
        self,
        streams: str = "synchronized",
        window: float = 900.0,
        day: float = DAY,
        d_model: int = 32,
        n_layers: int = 1,
        max_len: int = 50,
        epochs: int = 10,
        batch_size: int = 32,
        lr: float = 5e-3,
        seed: int = 0,
        dropout: float = 0.1,
    ):
        if streams not in STREAM_SETS:
            raise ValueError(f"streams must be one of {', '.join(map(repr, STREAM_SETS))}, got {streams!r}")
        for name, v in (("max_len", max_len), ("epochs", epochs), ("batch_size", batch_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        for name, v in (("window", window), ("day", day)):
            if not v > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {v!r}")
        self.streams, self.window, self.day = streams, float(window), float(day)
        self.d_model, self.n_layers = d_model, n_layers
        self.max_len, self.epochs, self.batch_size, self.lr, self.seed = max_len, epochs, batch_size, lr, seed
        self.dropout = dropout
        self.model: TIMeSynCModel | None = None
        self.genres: torch.Tensor | None = None
        self.genre_names: list[str] = []
        self.losses: list[float] = []

    @property
    def slow_names(self) -> tuple[str, ...]:
        return STREAM_SETS[self.streams]

    def _window_of(self, name: str) -> float:
        return self.window if name == "genres" else self.day

    # -- batching --------------------------------------------------------------------------
    def _example(self, items: torch.Tensor, times: torch.Tensor):
        """One example from a run of events: ``(items, buckets, [(windows, sync) per slow stream])``."""
        b = interval_buckets(times)
        slow = []
        for name in self.slow_names:
            w = self._window_of(name)
            ids, feats = build_stream(name, items, times, self.genres, w)
            slow.append((feats, synchronized_index(times, ids, w)))
        return items, b, slow

    def _collate(self, examples):
        """Right-padded ``(items, buckets, slow, sync)``; ``slow``/``sync`` one tensor per slow stream."""
        B, L = len(examples), max(e[0].numel() for e in examples)
        items = torch.zeros(B, L, dtype=torch.long)
        buckets = torch.zeros(B, L, dtype=torch.long)
        for r, e in enumerate(examples):
            items[r, : e[0].numel()], buckets[r, : e[1].numel()] = e[0], e[1]
        slow, sync = [], []
        for s, name in enumerate(self.slow_names):
            W = max(1, max(e[2][s][0].shape[0] for e in examples))
            z = torch.zeros(B, W, stream_dim(name, self.genres.shape[1]))
            c = torch.full((B, L), -1, dtype=torch.long)
            for r, e in enumerate(examples):
                feats, idx = e[2][s]
                z[r, : feats.shape[0]], c[r, : idx.numel()] = feats, idx
            slow.append(z)
            sync.append(c)
        return items, buckets, slow, sync

    def _new_model(self, split: Split) -> nn.Module:
        g = self.genres.shape[1]
        return TIMeSynCModel(
            split.num_items + 1,
            self.genres,
            self.d_model,
            self.n_layers,
            self.max_len,
            tuple(stream_dim(n, g) for n in self.slow_names),
            self.dropout,
        )

    def _training_examples(self, split: Split):
        """Windows of each training history: examples and ``(L, horizon)`` future item ids (PAD past
        the end of the history). ``targets[:, k]`` is the item ``k + 1`` steps after each position."""
        examples, targets = [], []
        K = self.horizon
        for seq, ts in zip(split.train, split.train_times, strict=True):
            if seq.numel() < 2:
                continue
            padded = torch.cat([seq, torch.full((K,), PAD, dtype=torch.long)])
            for x, _ in item_windows(torch.arange(1, seq.numel() + 1), self.max_len):
                real = x[x > 0] - 1
                examples.append(self._example(seq[real], ts[real]))
                targets.append(torch.stack([padded[real + k] for k in range(1, K + 1)], 1))
        return examples, targets

    def _logits(self, batch, targets) -> torch.Tensor:
        """Training logits ``(B, L, horizon, G)`` (teacher forcing where the model decodes)."""
        items, buckets, slow, sync = batch
        return self.model(items, buckets, slow, sync)[:, :, None]

    def _fit(self, split: Split) -> None:
        if split.train_times is None:
            raise ValueError("TIMeSynC needs a split with timestamps (leave_one_out of timed Interactions)")
        self.genres, self.genre_names = genre_matrix(split.item_text)
        self.counts = split.train_counts().float()
        examples, targets = self._training_examples(split)
        if not examples:
            raise ValueError("TIMeSynC needs training histories of >= 2 items")
        # the whole fit (initialisation, dropout) draws from its own seeded generator state
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self.model = self._new_model(split)
            self._train(examples, targets)
        self.model.eval()

    def _train(self, examples, targets) -> None:
        """Adam on the binary cross-entropy of every (position, step) whose future item exists."""
        # the head starts at the prior: logit of each genre's frequency among the training targets
        prior = self.genres[torch.cat([t[:, 0][t[:, 0] > 0] for t in targets])].mean(0)
        with torch.no_grad():
            self.model.backbone.head.bias.copy_(torch.logit(prior.clamp(1e-4, 1 - 1e-4)))
        g = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.model.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(examples), generator=g).tolist()
            total, steps = 0.0, 0
            for lo in range(0, len(order), self.batch_size):
                idx = order[lo : lo + self.batch_size]
                batch = self._collate([examples[i] for i in idx])
                y = torch.zeros(*batch[0].shape, self.horizon, dtype=torch.long)
                for r, i in enumerate(idx):
                    y[r, : targets[i].shape[0]] = targets[i]
                logits = self._logits(batch, y)
                mask = y != PAD
                loss = F.binary_cross_entropy_with_logits(logits[mask], self.genres[y[mask]])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, steps = total + loss.item(), steps + 1
            self.losses.append(total / steps)

    # -- prediction ------------------------------------------------------------------------
    def _check_times(self, histories, times):
        return check_times(histories, times, "TIMeSynC")

    def _batch(self, histories, times):
        n = self._fitted()
        histories = check_histories(histories, n)
        times = self._check_times(histories, times)
        ex = [
            self._example(h[-self.max_len :], t[-self.max_len :])
            for h, t in zip(histories, times, strict=True)
        ]
        batch = self._collate(ex)
        return batch, (batch[0] != PAD).sum(1) - 1

    @torch.no_grad()
    def intent(self, histories, times=None) -> torch.Tensor:
        """``(users, G)``: probability of each genre for the next item after each history."""
        batch, last = self._batch(histories, times)
        logits = self.model(*batch)
        return torch.sigmoid(logits[torch.arange(len(last)), last])

    @torch.no_grad()
    def scores(self, histories, times=None) -> torch.Tensor:
        p = self.intent(histories, times)
        mass = p @ self.genres.T  # (users, num_items + 1): sum of the item's genre probabilities
        s = torch.log1p(self.counts)[None] + torch.log(mass.clamp(min=1e-12))
        s[:, PAD] = -math.inf
        return s


def intent_hits(prob: torch.Tensor, genres: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 where the top-scored genre (ties: lower index) is one of the target item's genres."""
    top = torch.sort(-prob, dim=1, stable=True).indices[:, 0]
    return genres[targets].gather(1, top[:, None]).squeeze(1)
