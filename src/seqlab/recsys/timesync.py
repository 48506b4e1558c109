"""TIMeSynC ("TIMeSynC: Temporal Intent Modelling with Synchronized Context Encodings for Financial
Service Applications", arXiv 2410.12825): intent prediction from multi-rate streams aligned by time.

The paper encodes several event streams that arrive at different rates (and from different domains)
and synchronises them by timestamp before predicting a user's next intent. Built here from
MovieLens-100K's timestamps and genres:

- **fast stream** (one entry per rating): item ``i_j`` at time ``t_j``, embedded as
  ``e_j = E[i_j] + W_g g(i_j) + I[b(t_j - t_{j-1})]`` with ``g(i)`` the multi-hot genre vector of the
  item and ``b`` UniRec's log2 interval bucket;
- **slow stream** (one entry per completed time window of ``window`` seconds in which the user was
  active): ``z_w = [genre histogram of the window's ratings / count, log(1 + count)]``, encoded
  causally by a GRU into ``a_w``;
- **synchronisation**: event ``j`` is paired with the state of the last window *completed* by its
  time, ``c(j) = max{w : (w + 1) * window <= t_j}`` (a learned ``a_none`` when there is none), and
  the fused input ``x_j = e_j + W_a a_{c(j)}`` goes through a causal attention encoder. A window ends
  no later than ``t_j``, so no event after ``j`` (nor the target) is ever visible: the alignment is by
  timestamp, not by position;
- **intent**: the next item's genres, ``p = sigmoid(MLP(h_j))`` over the genre vocabulary, trained
  by binary cross-entropy at every position.

``streams="single"`` drops the slow stream (the single-stream baseline). As a recommender
(``scores``), item ``i`` is ranked by ``log(1 + count_i) + log sum_{g in G(i)} p_g`` (popularity
within the predicted intent). Not here: the paper's financial data, its multiple domains beyond
these two streams and its encoder-decoder over several future intents.
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
from seqlab.recsys.train import item_windows
from seqlab.recsys.unirec import INTERVAL_BUCKETS, interval_buckets
from seqlab.registry import Paper, register

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


def slow_stream(items: torch.Tensor, times: torch.Tensor, genres: torch.Tensor, window: float):
    """The windows of ``window`` seconds holding events: ``(ids (W,), features (W, G + 1))`` with
    ``features = [genre histogram / count, log(1 + count)]``, windows in time order."""
    if not window > 0:
        raise ValueError(f"window must be > 0 seconds, got {window!r}")
    wid = torch.floor(torch.as_tensor(times, dtype=torch.float64) / window).long()
    ids, inverse = torch.unique(wid, sorted=True, return_inverse=True)
    g = genres.shape[1]
    hist = torch.zeros(len(ids), g).index_add_(0, inverse, genres[items])
    count = torch.bincount(inverse, minlength=len(ids)).float()
    return ids, torch.cat([hist / count[:, None], torch.log1p(count)[:, None]], 1)


def synchronized_index(times: torch.Tensor, window_ids: torch.Tensor, window: float) -> torch.Tensor:
    """``c(j)``: index of the last window completed by ``t_j`` (``(w + 1) * window <= t_j``), -1 if none."""
    ends = (window_ids.double() + 1) * window
    return torch.searchsorted(ends, torch.as_tensor(times, dtype=torch.float64), right=True) - 1


class TIMeSynCModel(nn.Module):
    """Fast/slow stream encoders, time-synchronised fusion and the intent head."""

    def __init__(
        self,
        vocab: int,
        genres: torch.Tensor,
        d_model: int = 32,
        n_layers: int = 1,
        max_len: int = 50,
        synchronized: bool = True,
        dropout: float = 0.1,
    ):
        super().__init__()
        g = genres.shape[1]
        self.register_buffer("genres", genres)
        self.items = nn.Embedding(vocab, d_model, padding_idx=PAD)
        self.genre_in = nn.Linear(g, d_model, bias=False)
        self.interval = nn.Embedding(INTERVAL_BUCKETS, d_model)
        self.synchronized = synchronized
        if synchronized:
            self.slow = nn.GRU(g + 1, d_model, batch_first=True)
            self.none = nn.Parameter(torch.zeros(d_model))
            self.fuse = nn.Linear(d_model, d_model)
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

    def forward(self, items, buckets, slow=None, slow_len=None, sync=None) -> torch.Tensor:
        """Intent logits (B, L, G). ``slow`` (B, W, G + 1) right-padded windows, ``sync`` (B, L) the
        index into them of each event's last completed window (-1: none)."""
        x = self.items(items) + self.genre_in(self.genres[items]) + self.interval(buckets)
        if self.synchronized:
            a, _ = self.slow(slow)  # causal over windows: a_w sees windows <= w only
            a = torch.cat([self.none.expand(a.shape[0], 1, -1), a], 1)  # index 0 = none
            ctx = a.gather(1, (sync + 1).clamp(min=0)[..., None].expand(-1, -1, a.shape[-1]))
            x = x + self.fuse(ctx)
        return self.backbone(x)


@register("recommender", "timesync", implements=Paper(TIMESYNC_TITLE, "2410.12825"), used_by=[TIMESYNC_TITLE])
class TIMeSynC(ScoringRecommender):
    """Next-intent (genre) model over time-synchronised fast and slow streams (module docstring)."""

    uses_times = True

    def __init__(
        self,
        streams: str = "synchronized",
        window: float = 900.0,
        d_model: int = 32,
        n_layers: int = 1,
        max_len: int = 50,
        epochs: int = 6,
        batch_size: int = 128,
        lr: float = 5e-3,
        seed: int = 0,
        dropout: float = 0.1,
    ):
        if streams not in ("synchronized", "single"):
            raise ValueError(f"streams must be 'synchronized' or 'single', got {streams!r}")
        for name, v in (("max_len", max_len), ("epochs", epochs), ("batch_size", batch_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        if not window > 0:
            raise ValueError(f"window must be > 0 seconds, got {window!r}")
        self.streams, self.window, self.d_model, self.n_layers = streams, float(window), d_model, n_layers
        self.max_len, self.epochs, self.batch_size, self.lr, self.seed = max_len, epochs, batch_size, lr, seed
        self.dropout = dropout
        self.model: TIMeSynCModel | None = None
        self.genres: torch.Tensor | None = None
        self.genre_names: list[str] = []
        self.losses: list[float] = []

    # -- batching --------------------------------------------------------------------------
    def _example(self, items: torch.Tensor, times: torch.Tensor):
        """One right-padded-able example from a run of events: (items, buckets, slow, sync)."""
        b = interval_buckets(times)
        if self.streams == "single":
            return items, b, None, None
        ids, feats = slow_stream(items, times, self.genres, self.window)
        sync = synchronized_index(times, ids, self.window)
        return items, b, feats, sync

    def _collate(self, examples):
        B, L = len(examples), max(e[0].numel() for e in examples)
        items = torch.zeros(B, L, dtype=torch.long)
        buckets = torch.zeros(B, L, dtype=torch.long)
        for r, e in enumerate(examples):
            items[r, : e[0].numel()], buckets[r, : e[1].numel()] = e[0], e[1]
        if self.streams == "single":
            return items, buckets, None, None, None
        W = max(1, max(e[2].shape[0] for e in examples))
        slow = torch.zeros(B, W, self.genres.shape[1] + 1)
        sync = torch.full((B, L), -1, dtype=torch.long)
        lens = torch.zeros(B, dtype=torch.long)
        for r, e in enumerate(examples):
            slow[r, : e[2].shape[0]], sync[r, : e[3].numel()], lens[r] = e[2], e[3], e[2].shape[0]
        return items, buckets, slow, lens, sync

    def _fit(self, split: Split) -> None:
        if split.train_times is None:
            raise ValueError("TIMeSynC needs a split with timestamps (leave_one_out of timed Interactions)")
        self.genres, self.genre_names = genre_matrix(split.item_text)
        self.counts = split.train_counts().float()
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self.model = TIMeSynCModel(
                split.num_items + 1,
                self.genres,
                self.d_model,
                self.n_layers,
                self.max_len,
                self.streams == "synchronized",
                self.dropout,
            )
        examples, targets = [], []
        for seq, ts in zip(split.train, split.train_times, strict=True):
            if seq.numel() < 2:
                continue
            for x, y in item_windows(torch.arange(1, seq.numel() + 1), self.max_len):
                real = x[x > 0] - 1
                examples.append(self._example(seq[real], ts[real]))
                targets.append(seq[y[y > 0] - 1])
        g = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.model.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(examples), generator=g).tolist()
            total, steps = 0.0, 0
            for lo in range(0, len(order), self.batch_size):
                idx = order[lo : lo + self.batch_size]
                items, buckets, slow, _, sync = self._collate([examples[i] for i in idx])
                y = torch.zeros_like(items)
                for r, i in enumerate(idx):
                    y[r, : targets[i].numel()] = targets[i]
                logits = self.model(items, buckets, slow, None, sync)
                mask = y != PAD
                loss = F.binary_cross_entropy_with_logits(logits[mask], self.genres[y[mask]])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, steps = total + loss.item(), steps + 1
            self.losses.append(total / steps)
        self.model.eval()

    # -- prediction ------------------------------------------------------------------------
    def _check_times(self, histories, times):
        return check_times(histories, times, "TIMeSynC")

    @torch.no_grad()
    def intent(self, histories, times=None) -> torch.Tensor:
        """``(users, G)``: probability of each genre for the next item after each history."""
        n = self._fitted()
        histories = check_histories(histories, n)
        times = self._check_times(histories, times)
        ex = [
            self._example(h[-self.max_len :], t[-self.max_len :])
            for h, t in zip(histories, times, strict=True)
        ]
        items, buckets, slow, _, sync = self._collate(ex)
        logits = self.model(items, buckets, slow, None, sync)
        last = (items != PAD).sum(1) - 1
        return torch.sigmoid(logits[torch.arange(len(ex)), last])

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
