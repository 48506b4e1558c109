"""Se^2's retriever: learnt from the LM's feedback, then a per-query sequential search at test time.

"Se^2: Sequential Example Selection for In-Context Learning" (Liu et al.; arXiv 2402.13874). The
paper's pipeline, at the scale of this CPU:

1. **LM feedback** (:func:`collect_feedback`): for each training query ``(x, y)`` and each step
   ``j = 1 .. k``, every pool example ``c`` not yet chosen extends the current prefix
   ``s = e_1 .. e_{j-1}`` and is scored by the LM, ``r(c) = log p_LM(y | s + c, x)`` (label words
   renormalised, :meth:`~seqlab.decode.se2.ICLTask.label_log_probs`); the prefix grows by the best
   ``c`` (the LM's own greedy sequence), so every step yields one list of scored candidates.
2. **Retriever** (:class:`Se2Retriever`): a small bi-encoder over frozen sentence features
   ``f(.)`` (e.g. MiniLM, mean pooled). The query side reads the query and the prefix chosen so far,
   ``q(x, s) = A [f(x); mean_{e in s} f(e)]`` (zeros for an empty prefix); the candidate side reads
   the example and its label, ``k(c) = B [f(c); onehot(y_c)]``; the score is ``cos(q, k) / tau``.
3. **Training** (:func:`train_retriever`): contrastive over each feedback list -- the retriever's
   softmax over the candidates is pulled towards the LM's (``softmax(r / T)``): a listwise
   cross-entropy ``-sum_c softmax(r / T)_c log softmax(score / tau)_c``, so the LM-preferred example
   is the positive and the others (all of them scored, the close ones hard) the negatives.
4. **Test time** (:func:`retrieve`): for each test query on its own, beam search
   (:func:`~seqlab.decode.se2.beam_select`) over sequences of ``k`` distinct pool examples, a sequence
   scored by ``sum_j score(q(x, e_1 .. e_{j-1}), k(e_j))`` -- sequential: each pick sees the ones
   before it. The LM is not called at test time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.decode.se2 import PAPER, ICLTask, beam_select
from seqlab.registry import register


class Feedback(list):
    """A list of ``(query index, prefix tuple, candidate indices (n,), LM scores (n,))``."""


@torch.no_grad()
def collect_feedback(
    lm,
    pool: Sequence[tuple[str, int]],
    queries: Sequence[tuple[str, int]],
    k: int,
    task: ICLTask | None = None,
    batch_size: int = 16,
) -> Feedback:
    """LM-scored candidate lists: for each query and step, every unused pool example after the LM's
    greedy prefix, scored ``log p_LM(gold | prefix + c, query)``."""
    task = task or ICLTask()
    if not 1 <= k <= len(pool):
        raise ValueError(f"collect_feedback needs 1 <= k <= pool size {len(pool)}, got {k!r}")
    if not queries:
        raise ValueError("collect_feedback needs at least one training query")
    out = Feedback()
    for qi, (x, y) in enumerate(queries):
        prefix: tuple[int, ...] = ()
        for _ in range(k):
            cands = [c for c in range(len(pool)) if c not in prefix]
            prompts = [task.prompt([pool[i] for i in (*prefix, c)], x) for c in cands]
            scores = task.label_log_probs(lm, prompts, batch_size)[:, y]
            out.append((qi, prefix, torch.tensor(cands), scores.float()))
            prefix = (*prefix, cands[int(scores.argmax())])
    return out


class Se2Retriever(nn.Module):
    """Bi-encoder over frozen features: ``q(x, s) = A [f(x); mean f(s)]``, ``k(c) = B [f(c); onehot(y_c)]``,
    score ``cos(q, k) / tau``."""

    def __init__(self, d_feat: int, n_labels: int, d: int | None = None, tau: float = 0.1):
        super().__init__()
        d = d_feat if d is None else d
        if d_feat < 1 or n_labels < 1 or d < 1 or not tau > 0:
            raise ValueError(
                "Se2Retriever needs d_feat, n_labels, d >= 1 and tau > 0, got "
                f"{d_feat}, {n_labels}, {d}, {tau}"
            )
        self.n_labels, self.tau = n_labels, tau
        self.query = nn.Linear(2 * d_feat, d)
        self.key = nn.Linear(d_feat + n_labels, d)
        with torch.no_grad():  # start as the plain cosine of the features (identity-like blocks)
            for lin, width in ((self.query, d_feat), (self.key, d_feat)):
                lin.weight.zero_()
                lin.bias.zero_()
                n = min(d, width)
                lin.weight[:n, :n] = torch.eye(n)

    def queries(self, query_feat: torch.Tensor, prefix_feats: torch.Tensor | None) -> torch.Tensor:
        """``(Q, d)`` query vectors; ``prefix_feats`` ``(Q, d_feat)``: the mean of the chosen examples'
        features (None: empty prefixes)."""
        ctx = torch.zeros_like(query_feat) if prefix_feats is None else prefix_feats
        return F.normalize(self.query(torch.cat([query_feat, ctx], -1)), dim=-1)

    def keys(self, pool_feat: torch.Tensor, pool_labels: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(pool_labels.long(), self.n_labels).to(pool_feat.dtype)
        return F.normalize(self.key(torch.cat([pool_feat, onehot], -1)), dim=-1)

    def scores(self, query_feat, prefix_feats, pool_feat, pool_labels) -> torch.Tensor:
        """``(Q, P)`` scores of every pool example as the next pick of each query."""
        return self.queries(query_feat, prefix_feats) @ self.keys(pool_feat, pool_labels).T / self.tau


def _prefix_mean(pool_feat: torch.Tensor, prefix: Sequence[int]) -> torch.Tensor:
    if not prefix:
        return torch.zeros(pool_feat.shape[1], dtype=pool_feat.dtype)
    return pool_feat[list(prefix)].mean(0)


def listwise_loss(scores: torch.Tensor, lm_scores: torch.Tensor, temperature: float) -> torch.Tensor:
    """``-sum_c softmax(lm / T)_c log softmax(scores)_c`` (one list)."""
    target = torch.softmax(lm_scores / temperature, -1)
    return -(target * torch.log_softmax(scores, -1)).sum()


def train_retriever(
    feedback: Feedback,
    query_feat: torch.Tensor,
    pool_feat: torch.Tensor,
    pool_labels: torch.Tensor,
    *,
    n_labels: int = 2,
    d: int | None = None,
    tau: float = 0.1,
    temperature: float = 0.5,
    steps: int = 200,
    lr: float = 1e-2,
    seed: int = 0,
) -> Se2Retriever:
    """Fit a :class:`Se2Retriever` to the LM's feedback lists (Adam, full batch of lists)."""
    if not feedback:
        raise ValueError("train_retriever needs LM feedback (collect_feedback), got none")
    if not temperature > 0:
        raise ValueError(f"train_retriever needs temperature > 0, got {temperature!r}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = Se2Retriever(query_feat.shape[1], n_labels, d, tau)
    qf = query_feat[[qi for qi, _, _, _ in feedback]]
    pf = torch.stack([_prefix_mean(pool_feat, prefix) for _, prefix, _, _ in feedback])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        all_scores = model.scores(qf, pf, pool_feat, pool_labels)
        loss = sum(
            listwise_loss(all_scores[i, cands], lm, temperature)
            for i, (_, _, cands, lm) in enumerate(feedback)
        ) / len(feedback)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model


@register(
    "decoder",
    "se2_retriever",
    implements=PAPER,
    description="Se^2's retriever trained on LM feedback; per-query sequential beam search at test time",
)
@torch.no_grad()
def retrieve(
    model: Se2Retriever,
    query_feat: torch.Tensor,
    pool_feat: torch.Tensor,
    pool_labels: torch.Tensor,
    k: int,
    beam_size: int = 2,
) -> list[tuple[int, ...]]:
    """For each query (row of ``query_feat``), the best sequence of ``k`` distinct pool indices by beam
    search over ``sum_j score(q(x, e_<j), k(e_j))``."""
    if query_feat.dim() != 2 or pool_feat.dim() != 2 or query_feat.shape[1] != pool_feat.shape[1]:
        raise ValueError(
            f"retrieve expects (queries, d) and (pool, d) features, got {tuple(query_feat.shape)} and "
            f"{tuple(pool_feat.shape)}"
        )
    keys = model.keys(pool_feat, pool_labels)
    out = []
    for qx in query_feat:
        memo: dict[tuple[int, ...], torch.Tensor] = {}

        def step_scores(prefix, qx=qx, memo=memo):
            if prefix not in memo:
                q = model.queries(qx[None], _prefix_mean(pool_feat, prefix)[None])
                memo[prefix] = (q @ keys.T / model.tau)[0]
            return memo[prefix]

        def score(seqs):
            return [math.fsum(float(step_scores(s[:j])[s[j]]) for j in range(len(s))) for s in seqs]

        out.append(beam_select(score, pool_feat.shape[0], k, beam_size)[0][0])
    return out
