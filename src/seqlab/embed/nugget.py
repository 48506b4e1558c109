"""Nugget: a text as a dynamically selected subset of its token states.

"Nugget: Neural Agglomerative Embeddings of Text" (Qin and Van Durme, arXiv 2310.01732). An
encoder maps tokens to states ``h_1..h_n``; a scorer ``s_t = w . h_t + c`` ranks them and the
``k = ceil(ratio * n)`` highest-scoring states, kept in their text order, are the *nuggets* -- a
representation whose size grows with the length of the text. Top-k selection is not
differentiable, so the scores reach the loss through the decoder: every cross-attention logit to
nugget ``j`` gets ``+ s_j`` (the paper's residual path from the scorer into the decoder's
attention), and the decoder is trained to reconstruct the text from the nuggets alone
(autoencoding, one of the paper's training tasks):

    L = - sum_t log p(x_t | x_<t, {(h_j, s_j) : j in top-k(s)})

The encoder/decoder are those of :mod:`seqlab.embed.denosent` (small, trained on the Lee
background sentences). ``nuggets(texts)`` returns each text's nugget states and positions;
``encode`` gives a fixed vector per text (the mean of its nuggets) for similarity tables.
"""

from __future__ import annotations

import random

import torch
from torch import nn

from seqlab.embed.denosent import (
    TextDecoder,
    TextEncoder,
    WordVocab,
    encode_by_sentences,
    lee_sentences,
    pad_rows,
    reconstruction_loss,
)
from seqlab.registry import Paper, register

NUGGET_PAPER = Paper("Nugget: Neural Agglomerative Embeddings of Text", "2310.01732")


def nugget_count(lengths: torch.Tensor, ratio: float) -> torch.Tensor:
    """``k = max(1, ceil(ratio * n))`` nuggets for texts of ``n`` tokens."""
    if not 0 < ratio <= 1:
        raise ValueError(f"nugget ratio must be in (0, 1], got {ratio}")
    return torch.clamp(torch.ceil(lengths.float() * ratio - 1e-6).long(), min=1)


def select_nuggets(scores: torch.Tensor, mask: torch.Tensor, ratio: float):
    """Indices ``(B, K)`` of each row's ``k`` top-scoring real tokens in text order, and a ``(B, K)``
    mask of which of the K slots are used (rows with fewer nuggets are padded)."""
    if scores.shape != mask.shape:
        raise ValueError(f"scores {tuple(scores.shape)} and mask {tuple(mask.shape)} must have one shape")
    k = nugget_count(mask.sum(1), ratio)
    K = int(k.max())
    masked = scores.masked_fill(~mask, float("-inf"))
    top = masked.topk(K, dim=1).indices  # (B, K), best first
    used = torch.arange(K)[None] < k[:, None]
    big = mask.shape[1]
    ordered = torch.where(used, top, big).sort(dim=1).values  # text order, unused slots last
    return ordered.clamp(max=big - 1), used


@register("embedder", "nugget", implements=NUGGET_PAPER)
class Nugget(nn.Module):
    """Encoder + scorer choosing ``ceil(ratio * n)`` token states, trained by autoencoding through a
    decoder whose cross-attention logits include the nugget scores."""

    def __init__(
        self,
        d: int = 64,
        layers: int = 2,
        ratio: float = 0.25,
        steps: int = 300,
        batch_size: int = 32,
        lr: float = 1e-3,
        max_len: int = 32,
        min_count: int = 2,
        seed: int = 0,
    ):
        super().__init__()
        nugget_count(torch.tensor([1]), ratio)  # validates the ratio
        if steps < 1 or batch_size < 1:
            raise ValueError("Nugget needs steps >= 1 and batch_size >= 1")
        self.cfg = dict(
            d=d,
            layers=layers,
            ratio=ratio,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            max_len=max_len,
            min_count=min_count,
            seed=seed,
        )
        self.vocab: WordVocab | None = None
        self.history: list[float] = []

    def build(self, vocab: WordVocab) -> Nugget:
        c = self.cfg
        self.vocab = vocab
        self.encoder = TextEncoder(len(vocab), c["d"], c["layers"])
        self.scorer = nn.Linear(c["d"], 1)
        self.decoder = TextDecoder(len(vocab), c["d"], c["layers"])
        return self

    def select(self, ids, mask):
        """States, scores and slot mask of the nuggets of a padded batch."""
        h = self.encoder(ids, mask)
        s = self.scorer(h).squeeze(-1)
        idx, used = select_nuggets(s.detach(), mask, self.cfg["ratio"])
        states = h.gather(1, idx[..., None].expand(-1, -1, h.shape[-1]))
        return states, s.gather(1, idx), used, idx

    def loss(self, ids, mask) -> torch.Tensor:
        states, scores, used, _ = self.select(ids, mask)
        return reconstruction_loss(self.decoder, ids, states, used, scores)

    def fit(self, texts: list[str] | None = None) -> Nugget:
        c = self.cfg
        texts = lee_sentences() if texts is None else list(texts)
        if len(texts) < 1:
            raise ValueError("Nugget.fit needs at least one text")
        torch.manual_seed(c["seed"])
        self.build(WordVocab(texts, c["min_count"]))
        rows = [r for r in (self.vocab.ids(t, c["max_len"]) for t in texts) if r]
        rng = random.Random(c["seed"])
        opt = torch.optim.AdamW(self.parameters(), lr=c["lr"])
        self.train()
        for _ in range(c["steps"]):
            ids, mask = pad_rows(rng.sample(rows, min(c["batch_size"], len(rows))))
            loss = self.loss(ids, mask)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 1.0)
            opt.step()
            self.history.append(float(loss.detach()))
        self.eval()
        return self

    @torch.no_grad()
    def nuggets(self, texts: list[str]) -> list[tuple[torch.Tensor, list[int]]]:
        """Per text: its nugget states ``(k, d)`` and their token positions."""
        if self.vocab is None:
            raise ValueError("Nugget is not fitted: call fit() first")
        out = []
        for t in texts:
            ids, mask = pad_rows([self.vocab.ids(t, self.cfg["max_len"]) or [3]])
            states, _, used, idx = self.select(ids, mask)
            out.append((states[0][used[0]], idx[0][used[0]].tolist()))
        return out

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        """Mean of each text's nuggets (documents: averaged over sentences), ``(N, d)``."""
        if self.vocab is None:
            raise ValueError("Nugget is not fitted: call fit() first")

        def embed(ids, mask):
            states, _, used, _ = self.select(ids, mask)
            m = used.float()[..., None]
            return (states * m).sum(1) / m.sum(1)

        return encode_by_sentences(texts, self.vocab, self.cfg["max_len"], embed)
