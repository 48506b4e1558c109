"""UniRec ("UniRec: A Dual Enhancement of Uniformity and Frequency in Sequential Recommendations",
arXiv 2406.18470) on a seqlab attention backbone.

The paper's two observations: sequences whose time intervals are *uniform* are predicted better than
non-uniform ones, and *frequent* items better than rare ones; it enhances the weak side of each with
what the strong side teaches, and adds a multidimensional time module. Here, with ``D_t = t_j - t_{j-1}``
the gap before interaction ``j`` (``D_1 = 0``):

- **time module** (input): ``x_j = Ẽ_{i_j} + P_j + I[b(D_j)] + H[hour(t_j)] + W[weekday(t_j)]`` with a
  log2 interval bucket ``b(D) = 1 + min(B - 2, floor(log2(1 + D)))`` (0 for the first item);
- **uniformity**: a sequence's non-uniformity is ``u = std_j log(1 + D_j)``; users above the median ``u``
  of the training histories are *non-uniform*. Enhancement (our reading, at this scale): uniform
  training windows are made non-uniform by dropping each item with probability ``drop`` (gaps merge,
  intervals become irregular); the model is trained on both and the last hidden state of the perturbed
  window is pulled to the (stop-gradient) state of the clean one, ``L_u = 1 - cos(h', sg(h))``, so the
  representation of an irregular sequence learns to match what a regular one would give;
- **frequency**: items whose training count is below the ``tail_quantile`` of counts are *tail* items.
  Each item has ``K`` neighbours (the items most often adjacent to it, within ``window`` steps, in the
  training histories); ``a_i = W mean_{j in N(i)} E_j`` and ``Ẽ_i = E_i + 1[i tail] a_i`` is used
  as the input and (tied) output embedding. Head items teach the aggregator: for the head items among
  a batch's targets, ``L_f = 1 - cos(a_h, sg(E_h))`` with ``a_h`` over a random half of ``N(h)``
  (a simulated sparse neighbourhood).

Loss: next-item cross-entropy over all items at every position (clean and perturbed windows) plus
``lambda_u L_u + lambda_f L_f``. Score of item ``i`` after a history: ``F_t . Ẽ_i``.
Not here: the paper's exact augmentation operators and its four Amazon/Yelp data sets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.models import SequenceModel
from seqlab.recsys.base import ScoringRecommender, check_histories, check_times
from seqlab.recsys.data import PAD, Split
from seqlab.recsys.train import item_windows
from seqlab.registry import Paper, register

UNIREC_TITLE = "UniRec: A Dual Enhancement of Uniformity and Frequency in Sequential Recommendations"
INTERVAL_BUCKETS = 28  # 0 = first item / pad, 1..27 = floor(log2(1 + gap seconds)) clamped


def interval_buckets(times: torch.Tensor, buckets: int = INTERVAL_BUCKETS) -> torch.Tensor:
    """``b(D_j) = 1 + min(buckets - 2, floor(log2(1 + D_j)))`` for ``j >= 2``, 0 for the first item."""
    times = torch.as_tensor(times, dtype=torch.float64)
    gaps = (times[1:] - times[:-1]).clamp(min=0)
    if (times[1:] < times[:-1]).any():
        raise ValueError("timestamps must be non-decreasing within a sequence")
    b = 1 + torch.floor(torch.log2(1 + gaps)).long().clamp(max=buckets - 2)
    return torch.cat([torch.zeros(1, dtype=torch.long), b])


def non_uniformity(times: torch.Tensor) -> float:
    """``std_j log(1 + D_j)`` over the gaps of one sequence (population std; 0 with < 2 gaps)."""
    times = torch.as_tensor(times, dtype=torch.float64)
    if times.dim() != 1 or times.numel() == 0:
        raise ValueError(f"times must be a non-empty 1-D tensor, got shape {tuple(times.shape)}")
    gaps = torch.log1p((times[1:] - times[:-1]).clamp(min=0))
    if gaps.numel() < 2:
        return 0.0
    return float(gaps.std(correction=0))


def hour_weekday(times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """UTC hour of day (0..23) and weekday (0 = Thursday 1970-01-01, .. 6) of Unix timestamps."""
    t = torch.as_tensor(times, dtype=torch.float64).clamp(min=0)
    hours = torch.floor(t / 3600).long()
    return hours % 24, torch.floor(t / 86400).long() % 7


def item_neighbours(train: list[torch.Tensor], num_items: int, k: int, window: int = 1) -> torch.Tensor:
    """``(num_items + 1, k)``: for each item the ``k`` items most often within ``window`` steps of it
    in the training sequences (ties to the lower id); 0 pads items with fewer neighbours (and row 0)."""
    if not isinstance(k, int) or k < 1 or not isinstance(window, int) or window < 1:
        raise ValueError(f"k and window must be ints >= 1, got {k!r}, {window!r}")
    n = num_items + 1
    counts = torch.zeros(n * n, dtype=torch.float64)
    for seq in train:
        for d in range(1, min(window, seq.numel() - 1) + 1):
            a, b = seq[:-d], seq[d:]
            keep = a != b
            ones = torch.ones(int(keep.sum()), dtype=torch.float64)
            counts.index_add_(0, a[keep] * n + b[keep], ones)
            counts.index_add_(0, b[keep] * n + a[keep], ones)
    counts = counts.view(n, n)
    counts[:, PAD] = 0
    # stable descending order: larger count first, lower id first among ties
    order = torch.sort(-counts, dim=1, stable=True)
    top = order.indices[:, :k]
    top[order.values[:, :k] >= 0] = PAD  # a zero count is no neighbour
    top[PAD] = PAD
    return top


class UniRecModel(nn.Module):
    """Time-aware causal attention with frequency-enhanced item embeddings: ``features(items, times)``."""

    def __init__(
        self,
        vocab: int,
        neighbours: torch.Tensor,
        tail: torch.Tensor,
        d_model: int = 64,
        n_layers: int = 2,
        max_len: int = 50,
        dropout: float = 0.2,
        frequency: bool = True,
    ):
        super().__init__()
        self.items = nn.Embedding(vocab, d_model, padding_idx=PAD)
        nn.init.normal_(self.items.weight, std=0.02)
        with torch.no_grad():
            self.items.weight[PAD].zero_()
        self.interval = nn.Embedding(INTERVAL_BUCKETS, d_model)
        self.hour = nn.Embedding(24, d_model)
        self.weekday = nn.Embedding(7, d_model)
        for emb in (self.interval, self.hour, self.weekday):
            nn.init.normal_(emb.weight, std=0.02)
        self.agg = nn.Linear(d_model, d_model, bias=False)
        nn.init.zeros_(self.agg.weight)  # starts as plain item embeddings
        self.backbone = SequenceModel(
            mixer="attention",
            d_model=d_model,
            n_layers=n_layers,
            d_input=d_model,
            n_outputs=1,
            pos_enc="learned",
            max_len=max_len,
            dropout=dropout,
            mixer_cfg={"n_heads": 1, "pos": "none"},
            mlp_ratio=1.0,
        )
        self.register_buffer("neighbours", neighbours.long())
        self.register_buffer("tail", tail.bool() & frequency)
        self.frequency = frequency

    def aggregate(self, ids: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """``a_i = W mean_{j in N(i)} E_j`` (only neighbours where ``keep``); zero without neighbours."""
        nb = self.neighbours[ids]
        m = (nb != PAD).float() if keep is None else ((nb != PAD) & keep).float()
        mean = (self.items(nb) * m[..., None]).sum(-2) / m.sum(-1, keepdim=True).clamp(min=1.0)
        return self.agg(mean)

    def item_table(self) -> torch.Tensor:
        """``Ẽ`` for every id: ``E_i + 1[i tail] a_i``."""
        e = self.items.weight
        if not self.frequency:
            return e
        ids = torch.arange(e.shape[0], device=e.device)
        return e + self.tail[:, None].float() * self.aggregate(ids)

    def features(self, items: torch.Tensor, buckets, hours, days, table=None) -> torch.Tensor:
        table = self.item_table() if table is None else table
        x = F.embedding(items, table) + self.interval(buckets) + self.hour(hours) + self.weekday(days)
        return self.backbone.features(x)


def _time_features(times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    h, w = hour_weekday(times)
    return interval_buckets(times), h, w


def _pad_rows(rows: list[torch.Tensor], length: int) -> torch.Tensor:
    out = torch.zeros(len(rows), length, dtype=torch.long)
    for r, row in enumerate(rows):
        out[r, : row.numel()] = row
    return out


@register("recommender", "unirec", implements=Paper(UNIREC_TITLE, "2406.18470"), used_by=[UNIREC_TITLE])
class UniRec(ScoringRecommender):
    """UniRec: time module + uniformity and frequency enhancement (see the module docstring)."""

    uses_times = True

    def __init__(
        self,
        d_model: int = 64,
        n_layers: int = 2,
        dropout: float = 0.2,
        max_len: int = 50,
        epochs: int = 8,
        batch_size: int = 256,
        lr: float = 5e-3,
        seed: int = 0,
        uniformity: bool = True,
        frequency: bool = True,
        drop: float = 0.3,
        lambda_u: float = 0.1,
        lambda_f: float = 0.1,
        neighbours: int = 10,
        tail_quantile: float = 0.8,
    ):
        for name, v in (("max_len", max_len), ("epochs", epochs), ("batch_size", batch_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        if not 0 <= drop < 1 or not 0 < tail_quantile < 1:
            raise ValueError(
                f"drop must lie in [0, 1) and tail_quantile in (0, 1), got {drop}, {tail_quantile}"
            )
        self.d_model, self.n_layers, self.dropout, self.max_len = d_model, n_layers, dropout, max_len
        self.epochs, self.batch_size, self.lr, self.seed = epochs, batch_size, lr, seed
        self.uniformity, self.frequency, self.drop = uniformity, frequency, drop
        self.lambda_u, self.lambda_f = lambda_u, lambda_f
        self.k, self.tail_quantile = neighbours, tail_quantile
        self.model: UniRecModel | None = None
        self.uniformity_threshold: float | None = None
        self.tail: torch.Tensor | None = None
        self.losses: list[float] = []

    # -- data ------------------------------------------------------------------------------
    @staticmethod
    def tail_items(counts: torch.Tensor, quantile: float) -> torch.Tensor:
        """Items (ids >= 1) whose training count is below the ``quantile`` of the counts of all items."""
        c = counts.double().clone()
        cut = torch.quantile(c[1:], quantile)
        tail = c < cut
        tail[PAD] = False
        return tail

    def _windows(self, split: Split):
        """Clean training windows: items (W, L+1), their times, and whether the user is uniform."""
        items, times, uniform = [], [], []
        for seq, ts in zip(split.train, split.train_times, strict=True):
            if seq.numel() < 2:
                continue
            u = non_uniformity(ts) <= self.uniformity_threshold
            idx = torch.arange(1, seq.numel() + 1)
            for x, y in item_windows(idx, self.max_len):
                pos = torch.cat([x[:1], y])  # indices of x then the last target: L + 1 positions
                real = pos[pos > 0] - 1
                items.append(seq[real])
                times.append(ts[real])
                uniform.append(u)
        return items, times, uniform

    def _batch(self, items: list[torch.Tensor], times: list[torch.Tensor]):
        """Inputs (B, L) with time features and next-item targets (B, L), right-padded."""
        L = self.max_len
        x = _pad_rows([s[:-1] for s in items], L)
        y = _pad_rows([s[1:] for s in items], L)
        feats = [_time_features(t[:-1]) for t in times]
        b, h, w = (_pad_rows([f[i] for f in feats], L) for i in range(3))
        return x, y, b, h, w

    def _perturb(self, items: torch.Tensor, times: torch.Tensor, g: torch.Generator):
        keep = torch.rand(items.numel(), generator=g) >= self.drop
        keep[-1] = True  # the last target stays
        if int(keep.sum()) < 2:
            keep[-2] = True
        return items[keep], times[keep]

    def _fit(self, split: Split) -> None:
        if split.train_times is None:
            raise ValueError("UniRec needs a split with timestamps (leave_one_out of timed Interactions)")
        g = torch.Generator().manual_seed(self.seed)
        scores = [non_uniformity(t) for t in split.train_times]
        self.uniformity_threshold = float(torch.tensor(scores).median())
        counts = split.train_counts()
        self.tail = self.tail_items(counts, self.tail_quantile)
        nb = item_neighbours(split.train, split.num_items, self.k)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self.model = UniRecModel(
                split.num_items + 1,
                nb,
                self.tail,
                self.d_model,
                self.n_layers,
                self.max_len,
                self.dropout,
                self.frequency,
            )
        items, times, uniform = self._windows(split)
        head = (~self.tail) & (counts > 0)
        head[PAD] = False
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.model.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(items), generator=g).tolist()
            total, steps = 0.0, 0
            for lo in range(0, len(order), self.batch_size):
                idx = order[lo : lo + self.batch_size]
                loss = self._loss(
                    [items[i] for i in idx], [times[i] for i in idx], [uniform[i] for i in idx], head, g
                )
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, steps = total + loss.item(), steps + 1
            self.losses.append(total / steps)
        self.model.eval()

    def _loss(self, items, times, uniform, head, g) -> torch.Tensor:
        m = self.model
        table = m.item_table()
        x, y, b, h, w = self._batch(items, times)
        feats = m.features(x, b, h, w, table)
        loss = F.cross_entropy((feats @ table.T).flatten(0, 1), y.flatten(), ignore_index=PAD)
        if self.uniformity and self.lambda_u > 0:
            pick = [i for i, u in enumerate(uniform) if u and items[i].numel() >= 4]
            if pick:
                pert = [self._perturb(items[i], times[i], g) for i in pick]
                px, py, pb, ph, pw = self._batch([p[0] for p in pert], [p[1] for p in pert])
                pf = m.features(px, pb, ph, pw, table)
                loss = loss + F.cross_entropy((pf @ table.T).flatten(0, 1), py.flatten(), ignore_index=PAD)
                last_clean = (x[pick] != PAD).sum(1) - 1
                last_pert = (px != PAD).sum(1) - 1
                rows = torch.arange(len(pick))
                hc = feats[pick][rows, last_clean].detach()
                hp = pf[rows, last_pert]
                loss = loss + self.lambda_u * (1 - F.cosine_similarity(hp, hc, dim=-1)).mean()
        if self.frequency and self.lambda_f > 0:
            tgt = y[y != PAD].unique()
            tgt = tgt[head[tgt]]
            if tgt.numel():
                keep = torch.rand(tgt.numel(), self.k, generator=g) < 0.5
                a = m.aggregate(tgt, keep)
                loss = (
                    loss + self.lambda_f * (1 - F.cosine_similarity(a, m.items(tgt).detach(), dim=-1)).mean()
                )
        return loss

    # -- scoring ---------------------------------------------------------------------------
    @torch.no_grad()
    def scores(self, histories, times=None) -> torch.Tensor:
        n = self._fitted()
        histories = check_histories(histories, n)
        times = check_times(histories, times, "UniRec")
        m = self.max_len
        rows = [(hist[-m:], ts[-m:]) for hist, ts in zip(histories, times, strict=True)]
        x, _, b, h, w = self._batch(
            [torch.cat([r[0], r[0][-1:]]) for r in rows], [torch.cat([r[1], r[1][-1:]]) for r in rows]
        )
        table = self.model.item_table()
        feats = self.model.features(x, b, h, w, table)
        last = (x != PAD).sum(1) - 1
        return feats[torch.arange(len(rows)), last] @ table.T

    def is_non_uniform(self, times) -> bool:
        """Whether a history's gaps are less uniform than the training median (fitted threshold)."""
        if self.uniformity_threshold is None:
            raise ValueError("UniRec is not fitted: call fit(split) first")
        return non_uniformity(times) > self.uniformity_threshold
