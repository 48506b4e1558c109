"""Next-item recommenders over item-id sequences: a seqlab ``SequenceModel`` scored at the last position.

Shared by SASRec and GRU4Rec. Training (:mod:`seqlab.recsys.train`): every user's training history
cut into right-padded windows of ``max_len`` items, next-item cross-entropy over *all* items at
every position (RecBole's ``loss_type="CE"``; SASRec's paper samples one negative per positive
with binary cross-entropy instead -- the full softmax is the stronger, deterministic choice, and
the one RecBole uses by default). Scoring: the logits at the last real position of the user's
most recent ``max_len`` items (right-padded, so causal models never see the padding).
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.recsys.base import ScoringRecommender, check_histories
from seqlab.recsys.data import PAD, Split
from seqlab.recsys.train import item_windows, train_next_token


def right_pad(histories, length: int, pad: int = PAD) -> tuple[torch.Tensor, torch.Tensor]:
    """The last ``length`` items of each history, right-padded: ``(batch, length)`` and lengths."""
    rows, lens = [], []
    for h in histories:
        h = h[-length:]
        lens.append(h.numel())
        rows.append(torch.cat([h, torch.full((length - h.numel(),), pad, dtype=torch.long)]))
    return torch.stack(rows), torch.tensor(lens)


class NextItemRecommender(ScoringRecommender):
    """Trains ``build(num_items + 1)`` (an ``nn.Module`` mapping ids to logits) on next-item CE."""

    def __init__(
        self,
        max_len: int = 50,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 1e-3,
        seed: int = 0,
        weight_decay: float = 0.0,
    ):
        for name, v in (("max_len", max_len), ("epochs", epochs), ("batch_size", batch_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        self.max_len, self.epochs, self.batch_size, self.lr = max_len, epochs, batch_size, lr
        self.seed, self.weight_decay = seed, weight_decay
        self.model: nn.Module | None = None
        self.losses: list[float] = []

    def build(self, vocab: int) -> nn.Module:
        raise NotImplementedError

    def _fit(self, split: Split) -> None:
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self.model = self.build(split.num_items + 1)
            windows = [w for seq in split.train if seq.numel() >= 2 for w in item_windows(seq, self.max_len)]
            x = torch.stack([w[0] for w in windows])
            y = torch.stack([w[1] for w in windows])
            self.losses = train_next_token(
                self.model,
                x,
                y,
                epochs=self.epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                seed=self.seed,
                weight_decay=self.weight_decay,
            )

    @torch.no_grad()
    def scores(self, histories) -> torch.Tensor:
        n = self._fitted()
        histories = check_histories(histories, n)
        x, lens = right_pad(histories, self.max_len)
        self.model.eval()
        logits = self.model(x)
        return logits[torch.arange(len(histories)), lens - 1]
