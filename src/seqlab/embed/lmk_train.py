"""Training an encoder *with* landmark pooling: a SequenceModel pooled by CLS, mean or LMK, contrastively.

"LMK > CLS: Landmark Pooling for Dense Embeddings" (arXiv 2601.21525) trains its encoders with the landmark
tokens in place (``[CLS] z_1 [LMK] ... z_n [LMK]``, the embedding = mean of the landmark states), where
:mod:`seqlab.embed.pooling` only applies the pooling to frozen encoders. Here a small bidirectional-attention
:class:`seqlab.models.SequenceModel` (rotary positions) is trained from scratch with one of the three poolings
and the in-batch contrastive loss of dense retrieval (InfoNCE, both directions)::

    L = -1/2B Σ_i [log softmax_j(cos(q_i, p_j) / τ)_i + log softmax_j(cos(p_i, q_j) / τ)_i]

Token ids: ``0`` PAD (unused: batches have one length), ``1`` CLS, ``2`` LMK, content ids are shifted by 3.
Every pooling sees CLS first (landmarks are inserted only for LMK); the poolings differ in which states
they read.

:func:`evidence_pairs` builds the long-input retrieval task of the paper's motivation: a query is a short
evidence segment, its passage is filler with the evidence at a random place; training passages are short, test
passages long, so the test measures the length extrapolation of each pooling.
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.embed.pooling import POOLINGS, insert_landmarks
from seqlab.models import SequenceModel

CLS, LMK, SHIFT = 1, 2, 3


class ContrastiveEncoder(nn.Module):
    """SequenceModel (bidirectional attention) + CLS / mean / LMK pooling, for contrastive training."""

    def __init__(
        self,
        vocab: int,
        pooling: str = "lmk",
        every: int = 16,
        d: int = 64,
        layers: int = 2,
        heads: int = 4,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if every < 1 or vocab < 1:
            raise ValueError(f"every and vocab must be >= 1, got {every}, {vocab}")
        self.pooling, self.every, self.vocab = pooling, every, vocab
        self.model = SequenceModel(
            "attention", d, layers, vocab_size=vocab + SHIFT, mixer_cfg={"causal": False, "n_heads": heads}
        )

    def layout(self, content: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids ``(B, T')`` with CLS (and for LMK the landmarks) and the pooling weights ``(B, T')``."""
        if content.dim() != 2 or content.shape[1] < 1:
            raise ValueError(
                f"expected content ids of shape (batch, length >= 1), got {tuple(content.shape)}"
            )
        if int(content.min()) < 0 or int(content.max()) >= self.vocab:
            raise ValueError(f"content ids must lie in 0..{self.vocab - 1}")
        rows = []
        for r in (content + SHIFT).tolist():
            rows.append(insert_landmarks(r, self.every, LMK, [CLS]) if self.pooling == "lmk" else [CLS] + r)
        ids = torch.tensor(rows)
        if self.pooling == "lmk":
            w = (ids == LMK).float()
        elif self.pooling == "mean":
            w = torch.ones_like(ids, dtype=torch.float)
        else:
            w = (torch.arange(ids.shape[1]) == 0).float().expand(ids.shape[0], -1)
        return ids, w / w.sum(1, keepdim=True)

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        """Unit-norm embeddings ``(B, d)`` of content id rows of one length."""
        ids, w = self.layout(content)
        h = self.model.features(ids)
        return nn.functional.normalize((h * w[..., None]).sum(1), dim=-1)


def info_nce(q: torch.Tensor, p: torch.Tensor, tau: float = 0.05) -> torch.Tensor:
    """Symmetric in-batch softmax loss of unit vectors: pair ``i`` is the positive of row ``i``."""
    logits = q @ p.T / tau
    target = torch.arange(len(q))
    return 0.5 * (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target))


def evidence_pairs(
    n: int, length: int, vocab: int, evidence: int = 8, gen: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` (query, passage) pairs: query = ``evidence`` random tokens; passage = ``length`` random
    filler tokens with the query copied in at a random offset. Returns queries ``(n, evidence)``,
    passages ``(n, length)`` and the offsets."""
    if not 1 <= evidence <= length:
        raise ValueError(f"need 1 <= evidence <= length, got {evidence}, {length}")
    q = torch.randint(0, vocab, (n, evidence), generator=gen)
    p = torch.randint(0, vocab, (n, length), generator=gen)
    off = torch.randint(0, length - evidence + 1, (n,), generator=gen)
    cols = off[:, None] + torch.arange(evidence)
    p.scatter_(1, cols, q)
    return q, p, off


def train_contrastive(
    enc: ContrastiveEncoder,
    steps: int,
    length: int,
    batch: int = 32,
    lr: float = 1e-3,
    tau: float = 0.05,
    seed: int = 0,
) -> list[float]:
    """Adam on fresh :func:`evidence_pairs` batches of passages of ``length`` tokens; losses per step."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    losses = []
    enc.train()
    for _ in range(steps):
        q, p, _ = evidence_pairs(batch, length, enc.vocab, gen=gen)
        loss = info_nce(enc(q), enc(p), tau)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    enc.eval()
    return losses


@torch.no_grad()
def retrieval_accuracy(enc: ContrastiveEncoder, n: int, length: int, seed: int = 0) -> float:
    """Top-1 accuracy of finding each query's passage among ``n`` passages of ``length`` tokens."""
    q, p, _ = evidence_pairs(n, length, enc.vocab, gen=torch.Generator().manual_seed(seed))
    return float(((enc(q) @ enc(p).T).argmax(1) == torch.arange(n)).float().mean())
