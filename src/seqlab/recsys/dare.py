"""DARE: decoupled attention and representation embeddings ("Long-Sequence Recommendation Models Need
Decoupled Embeddings", arXiv 2410.02604).

A target-aware long-sequence model in two stages, for a candidate item ``t`` and a history
``h_1..h_n``:

1. search: relevance ``s_j = <A_t, A_{h_j}> / sqrt(d_att)`` with the *attention* table ``A``; keep the
   ``top_k`` most relevant behaviours ``J`` (all when ``n <= top_k``);
2. aggregate: ``w_j = softmax_{j in J}(s_j)``, ``u = sum_{j in J} w_j R_{h_j}`` with the
   *representation* table ``R``, and the logit ``f(t) = MLP([u, R_t, u * R_t])``.

DARE's point is that ``A`` and ``R`` are two separately initialised and learned tables (the attention
table may be smaller); ``decoupled=False`` is the usual single table (TWIN-style: ``A = R``), the
paper's baseline. Training: binary cross-entropy of the next item against ``negatives`` sampled
unseen items per position (the paper's CTR setting); scoring ranks every item by ``f``.
Not here: the paper's Taobao/Tmall data, the AUC/GAUC evaluation and its linear-projection variants.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.recsys.base import ScoringRecommender, check_histories
from seqlab.recsys.data import PAD, Split
from seqlab.recsys.sequential import right_pad
from seqlab.registry import Paper, register

DARE_TITLE = "Long-Sequence Recommendation Models Need Decoupled Embeddings"


class DAREModel(nn.Module):
    """The two-stage target-aware scorer: ``forward(history (B, L), candidates (B, C)) -> (B, C)``."""

    def __init__(
        self,
        vocab: int,
        d_att: int = 16,
        d_repr: int = 32,
        hidden: int = 64,
        top_k: int = 20,
        decoupled: bool = True,
    ):
        super().__init__()
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an int >= 1, got {top_k!r}")
        if not decoupled and d_att != d_repr:
            raise ValueError(
                f"one shared table (decoupled=False) needs d_att == d_repr, got {d_att}, {d_repr}"
            )
        self.repr = nn.Embedding(vocab, d_repr, padding_idx=PAD)
        self.att = nn.Embedding(vocab, d_att, padding_idx=PAD) if decoupled else self.repr
        for table in {id(self.repr): self.repr, id(self.att): self.att}.values():
            nn.init.normal_(table.weight, std=0.05)
            with torch.no_grad():
                table.weight[PAD].zero_()
        self.top_k, self.decoupled, self.d_att = top_k, decoupled, d_att
        self.mlp = nn.Sequential(nn.Linear(3 * d_repr, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def attention(self, history: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Weights ``w`` (B, C, L): softmax of the scaled attention-table scores over the top-k real items."""
        s = torch.einsum("bcd,bld->bcl", self.att(candidates), self.att(history)) / math.sqrt(self.d_att)
        s = s.masked_fill((history == PAD)[:, None, :], float("-inf"))
        if history.shape[1] > self.top_k:
            kth = s.topk(self.top_k, dim=-1).values[..., -1:]
            s = s.masked_fill(s < kth, float("-inf"))
        return torch.softmax(s, dim=-1)

    def forward(self, history: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        w = self.attention(history, candidates)
        u = torch.einsum("bcl,bld->bcd", w, self.repr(history))
        r = self.repr(candidates)
        return self.mlp(torch.cat([u, r, u * r], -1)).squeeze(-1)


@register("recommender", "dare", implements=Paper(DARE_TITLE, "2410.02604"), used_by=[DARE_TITLE])
class DARE(ScoringRecommender):
    """DARE scorer trained with sampled-negative BCE on the last ``max_len`` items before each target."""

    def __init__(
        self,
        d_att: int = 16,
        d_repr: int = 32,
        hidden: int = 64,
        top_k: int = 20,
        decoupled: bool = True,
        max_len: int = 50,
        negatives: int = 4,
        epochs: int = 3,
        batch_size: int = 256,
        lr: float = 3e-3,
        seed: int = 0,
    ):
        for name, v in (("max_len", max_len), ("negatives", negatives), ("epochs", epochs)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        self.cfg = dict(d_att=d_att, d_repr=d_repr, hidden=hidden, top_k=top_k, decoupled=decoupled)
        DAREModel(3, **self.cfg)  # validate the architecture settings now
        self.max_len, self.negatives, self.epochs = max_len, negatives, epochs
        self.batch_size, self.lr, self.seed = batch_size, lr, seed
        self.model: DAREModel | None = None
        self.losses: list[float] = []

    def _examples(self, split: Split):
        hist, target = [], []
        for seq in split.train:
            for t in range(1, seq.numel()):
                hist.append(seq[max(0, t - self.max_len) : t])
                target.append(int(seq[t]))
        x, _ = right_pad(hist, self.max_len)
        return x, torch.tensor(target)

    def _fit(self, split: Split) -> None:
        g = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self.model = DAREModel(split.num_items + 1, **self.cfg)
        x, y = self._examples(split)
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.model.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(y), generator=g)
            total = 0.0
            for lo in range(0, len(order), self.batch_size):
                idx = order[lo : lo + self.batch_size]
                neg = torch.randint(1, split.num_items + 1, (len(idx), self.negatives), generator=g)
                cand = torch.cat([y[idx, None], neg], 1)
                labels = torch.zeros_like(cand, dtype=torch.float)
                labels[:, 0] = 1.0
                loss = F.binary_cross_entropy_with_logits(self.model(x[idx], cand), labels)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            self.losses.append(total / len(y))
        self.model.eval()

    @torch.no_grad()
    def scores(self, histories, chunk: int = 512) -> torch.Tensor:
        n = self._fitted()
        histories = check_histories(histories, n)
        x, _ = right_pad(histories, self.max_len)
        out = torch.full((len(histories), n + 1), float("-inf"))
        items = torch.arange(1, n + 1)
        for lo in range(0, n, chunk):
            cand = items[lo : lo + chunk].expand(len(histories), -1)
            out[:, lo + 1 : lo + 1 + cand.shape[1]] = self.model(x, cand)
        return out
