"""Recformer's pre-training objectives ("Text Is All You Need: Learning Language Representations for
Sequential Recommendation", Li et al., arXiv 2305.13731, section 2.3.1) and its fine-tuning loss.

- **Masked language modelling** over the item-text tokens (BERT's recipe): every real item token is
  chosen with probability ``p = 0.15``; a chosen token is replaced by ``[MASK]`` with probability 0.8,
  by a token drawn uniformly from the item-text vocabulary with probability 0.1, and left unchanged
  otherwise; the model predicts the original token at the chosen positions. The head is the paper's
  Eqs. 7-9: ``z = LayerNorm(GELU(W_h h + b_h))``, ``p(w) = softmax(W_0 z + b_0)_w``, and
  ``L_MLM = -mean_{chosen t} log p(w_t | h_t)``. Padding and the summary token are never chosen.
- **Item-item contrastive loss with in-batch negatives** (Eq. 10): with unit vectors ``u_b`` (the
  history) and ``v_c`` (the target item of row ``c``),
  ``L_IIC = -mean_b log exp(u_b.v_b / tau) / sum_c exp(u_b.v_c / tau)``; a row whose target is the
  same item as row ``b``'s is not counted as a negative of ``b``.
- Pre-training minimises ``L = L_IIC + lambda L_MLM`` (Eq. 11, ``lambda = 0.1``).
- **Fine-tuning loss over the item feature table** (Eq. 12): with the table ``I`` of every item's
  encoded unit vector, ``L = -mean_b log exp(u_b.I_{y_b} / tau) / sum_{i in items} exp(u_b.I_i / tau)``
  (a full softmax over the catalogue, no gradient into ``I``).

The training loop that uses them is :func:`pretrain` (it drives a
:class:`~seqlab.recsys.recformer.Recformer` given as an argument, so this module imports none of it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -100  # label of a position the MLM loss skips (``F.cross_entropy``'s ignore_index)
FIRST_TEXT_TOKEN = 2  # local ids 0 and 1 are padding and the summary token


def mlm_mask(
    tokens: torch.Tensor,
    mask_id: int,
    vocab_size: int,
    prob: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT-style masking of the item-text tokens: ``(inputs, labels)``, both shaped like ``tokens``.

    Tokens ``>= 2`` and ``< vocab_size`` are real item-text tokens (0 is padding, 1 the summary token);
    each is chosen with probability ``prob``. Chosen: 80% ``mask_id``, 10% a uniform token in
    ``[2, vocab_size)``, 10% unchanged; ``labels`` holds the original token there and ``IGNORE`` elsewhere.
    """
    if not 0.0 < prob < 1.0:
        raise ValueError(f"the MLM masking probability must lie in (0, 1), got {prob!r}")
    if vocab_size <= FIRST_TEXT_TOKEN:
        raise ValueError(f"the MLM vocabulary needs item-text tokens (ids >= 2), got vocab_size {vocab_size}")
    if tokens.dtype != torch.long or tokens.dim() != 2:
        raise ValueError(
            f"tokens must be a (batch, length) LongTensor, got {tokens.dtype} {tuple(tokens.shape)}"
        )
    real = (tokens >= FIRST_TEXT_TOKEN) & (tokens < vocab_size)
    u = torch.rand(tokens.shape, generator=generator)
    chosen = real & (torch.rand(tokens.shape, generator=generator) < prob)
    random_tok = torch.randint(FIRST_TEXT_TOKEN, vocab_size, tokens.shape, generator=generator)
    inputs = tokens.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    swap = chosen & (u >= 0.8) & (u < 0.9)
    inputs[swap] = random_tok[swap]
    labels = torch.full_like(tokens, IGNORE)
    labels[chosen] = tokens[chosen]
    return inputs, labels


class MLMHead(nn.Module):
    """``W_0 LayerNorm(GELU(W_h h + b_h)) + b_0``: token logits over the item-text vocabulary (Eqs. 7-9)."""

    def __init__(self, d_model: int, vocab_size: int):
        super().__init__()
        self.dense = nn.Linear(d_model, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.decoder = nn.Linear(d_model, vocab_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(F.gelu(self.dense(h))))


def mlm_loss(head: MLMHead, hidden: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(sum of -log p(original token) over chosen positions, number of chosen positions)``; the
    head runs only on the chosen positions. The caller divides (several inputs share one mean)."""
    chosen = labels != IGNORE
    n = int(chosen.sum())
    if n == 0:
        return hidden.sum() * 0.0, 0
    logits = head(hidden[chosen])
    return F.cross_entropy(logits, labels[chosen], reduction="sum"), n


def in_batch_loss(u: torch.Tensor, v: torch.Tensor, targets: torch.Tensor, tau: float) -> torch.Tensor:
    """Eq. 10 over unit vectors ``u`` (B, d) and ``v`` (B, d); duplicate targets are not negatives."""
    logits = u @ v.T / tau
    same = targets[:, None] == targets[None, :]
    logits = logits.masked_fill(same & ~torch.eye(len(targets), dtype=torch.bool), float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(targets)))


def table_loss(u: torch.Tensor, table: torch.Tensor, targets: torch.Tensor, tau: float) -> torch.Tensor:
    """Eq. 12: softmax of ``u . I_i / tau`` over every item of ``table`` (row 0, padding, excluded)."""
    logits = u @ table.detach().T / tau
    logits[:, 0] = float("-inf")
    return F.cross_entropy(logits, targets)


def pretrain(model, batches, steps: int, mlm_weight: float, mlm_prob: float, lr: float, generator) -> list:
    """``steps`` Adam steps of ``L_IIC + mlm_weight * L_MLM`` on ``model`` (a fitted-in-progress
    Recformer with ``encoder``, ``items`` and ``mlm_head``), one batch of ``(histories, targets)`` from
    ``batches`` per step. Both the history and the target item inputs are masked; ``L_MLM`` is the mean
    over all their chosen tokens. Returns per-step ``(L_IIC, L_MLM)``."""
    enc = model.encoder
    params = [p for p in (*enc.parameters(), *model.mlm_head.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    enc.train()
    model.mlm_head.train()
    log = []
    for _ in range(steps):
        histories, targets = next(batches)
        u, tok_loss, n = model.masked_views(histories, mlm_prob, generator)
        v, tok_loss_v, n_v = model.masked_views([t.view(1) for t in targets], mlm_prob, generator)
        iic = in_batch_loss(u, v, targets, model.tau)
        mlm = (tok_loss + tok_loss_v) / max(n + n_v, 1)
        loss = iic + mlm_weight * mlm
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append((iic.item(), mlm.item()))
    return log
