"""The non-monotonic self-terminating (NMST) output head over a :class:`SequenceModel`.

"A Non-monotonic Self-terminating Language Model" (Choi, Lee, Cho; arXiv 2210.00660).

A softmax language model can give every continuation a small end-of-sequence probability, so
greedy search, beam search, top-k and nucleus sampling may never emit EOS. NMST bounds the EOS
probability below by a curve that rises to 1 while leaving it free to go up and down above it.
With ``h_t`` the hidden state after the ``t``-th token of the prefix (``t = 1, 2, ...``; the
prompt counts), ``u_v`` the output vectors and ``epsilon`` in (0, 1)::

    f_lb(t)   = 1 - (1 - epsilon)^t                     (lower bound, -> 1 as t -> inf)
    lambda_t  = sigmoid(u_eos . h_t)
    p(eos|t)  = (1 - lambda_t) f_lb(t) + lambda_t * 1     (convex combination of f_lb and f_ub = 1)
    p(v|t)    = (1 - p(eos|t)) softmax_{v' != eos}(u_v' . h_t)[v]     for v != eos

so ``1 - p(eos|t) = (1 - lambda_t)(1 - epsilon)^t`` and ``p(eos|t) >= f_lb(t)`` at every step,
whatever ``lambda_t`` does (it need not rise: the EOS probability is non-monotonic). Once
``f_lb(t) > 1/2`` EOS is the most probable token, so greedy search, top-k and nucleus sampling
(which keep the top token) stop by ``t* = ceil(log(1/2) / log(1 - epsilon))``.

The head computes log-probabilities in log space (``log(1 - p_eos) = logsigmoid(-a) +
t log(1 - epsilon)``, ``log p_eos = log(1 - exp(.))`` by the stable ``log1mexp``), and returns them
as the "logits" of the :class:`seqlab.lm.LanguageModel` interface: softmax of log-probabilities is
the identity, so every decoder of :mod:`seqlab.decode` uses the NMST distribution unchanged.

The baseline NMST relaxes, the *self-terminating* (ST) LM of "Consistency of a Recurrent Language
Model With Respect to Incomplete Decoding" (Welleck, Kulikov, Kim, Pang, Cho; arXiv 2002.02492), is
:class:`STLanguageModel` below: its EOS probability is forced to rise monotonically,

    alpha_t     = prod_{tau <= t} (1 - epsilon) sigmoid(u_eos . h_tau)      (1 - p(eos|t))
    p(eos|t)    = 1 - alpha_t,   p(v|t) = alpha_t softmax_{v' != eos}(u_v' . h_t)[v]

so ``p(eos|t) >= f_lb(t)`` too, but ``p(eos|t) >= p(eos|t-1)`` always (``alpha`` only shrinks).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.models.sequence_model import SequenceModel
from seqlab.registry import Paper, register

PAPER = Paper("A Non-monotonic Self-terminating Language Model", "2210.00660")


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate near 0 and for very negative ``x``."""
    return torch.where(x > -math.log(2.0), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def check_epsilon(epsilon) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0.0 < epsilon < 1.0:
        raise ValueError(f"NMST epsilon must be a number in (0, 1), got {epsilon!r}")
    return float(epsilon)


def eos_lower_bound(t, epsilon: float) -> torch.Tensor:
    """``f_lb(t) = 1 - (1 - epsilon)^t``."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return -torch.expm1(t * math.log1p(-check_epsilon(epsilon)))


def _check_head_args(logits: torch.Tensor, eos_token_id, epsilon, what: str) -> float:
    eps = check_epsilon(epsilon)
    v = logits.shape[-1]
    if isinstance(eos_token_id, bool) or not isinstance(eos_token_id, int) or not 0 <= eos_token_id < v:
        raise ValueError(f"{what} eos_token_id must be an int in [0, {v}), got {eos_token_id!r}")
    return eps


def _split_eos(log_keep: torch.Tensor, logits: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """Log-probabilities with ``log(1 - p_eos) = log_keep`` shared by the softmax over non-EOS tokens."""
    others = logits.clone()
    others[..., eos_token_id] = float("-inf")
    out = log_keep.unsqueeze(-1) + torch.log_softmax(others, dim=-1)
    out[..., eos_token_id] = log1mexp(log_keep)
    return out


def st_log_probs(logits: torch.Tensor, eos_token_id: int, epsilon: float, carry=None):
    """Self-terminating (Welleck et al. 2020, arXiv 2002.02492) log-probabilities of a whole prefix.

    ``logits`` ``(B, T, V)``: raw head outputs at prefix lengths ``t0 + 1 .. t0 + T``, whose EOS column is
    ``u_eos . h_t``; ``carry`` ``(B,)`` is ``log alpha_{t0}`` of the tokens before (``None``: ``t0 = 0``).
    ``log alpha_t = carry + sum_{tau <= t} [log(1 - epsilon) + logsigmoid(u_eos . h_tau)]`` is the log of
    ``1 - p(eos|t)``. Returns ``(log-probabilities (B, T, V), log alpha at the last position (B,))``.
    """
    eps = _check_head_args(logits, eos_token_id, epsilon, "ST")
    if logits.dim() != 3:
        raise ValueError(
            f"st_log_probs expects logits of shape (batch, length, vocab), got {tuple(logits.shape)}"
        )
    logits = logits.float()
    per_step = F.logsigmoid(logits[..., eos_token_id]) + math.log1p(-eps)
    log_alpha = torch.cumsum(per_step, dim=1)
    if carry is not None:
        log_alpha = log_alpha + carry.to(log_alpha.dtype)[:, None]
    return _split_eos(log_alpha, logits, eos_token_id), log_alpha[:, -1]


def nmst_log_probs(logits: torch.Tensor, t, eos_token_id: int, epsilon: float) -> torch.Tensor:
    """NMST log-probabilities ``(..., V)`` from raw head outputs ``logits`` ``(..., V)``.

    ``t``: the 1-based prefix length of each row, a number or a tensor broadcastable to
    ``logits.shape[:-1]``. The EOS column of ``logits`` is ``u_eos . h_t`` (the logit of lambda_t).
    """
    eps = _check_head_args(logits, eos_token_id, epsilon, "NMST")
    logits = logits.float()
    t = torch.as_tensor(t, dtype=logits.dtype, device=logits.device)
    if bool((t < 1).any()):
        raise ValueError("NMST step t counts the prefix tokens and must be >= 1")
    a = logits[..., eos_token_id]
    log_keep = F.logsigmoid(-a) + t * math.log1p(-eps)  # log(1 - p_eos) = log((1 - lambda)(1 - eps)^t)
    return _split_eos(log_keep, logits, eos_token_id)


@register("model", "nmst_lm", implements=PAPER)
class NMSTLanguageModel(nn.Module):
    """A :class:`SequenceModel` (token inputs) whose output head is the NMST parametrisation.

    ``model(ids)`` returns NMST log-probabilities ``(B, T, V)`` (train with cross-entropy on them,
    which is their negative log-likelihood); ``prefill`` / ``step`` / ``reorder_state`` implement the
    :class:`seqlab.lm.LanguageModel` decoding members, tracking the prefix length for ``f_lb``.
    Remaining keyword arguments build the backbone (``mixer``, ``d_model``, ``n_layers``, ...).
    """

    padding_side = "none"

    def __init__(self, vocab_size: int, eos_token_id: int, epsilon: float = 0.01, **backbone):
        super().__init__()
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
            raise ValueError(f"NMST needs vocab_size an int >= 2, got {vocab_size!r}")
        if isinstance(eos_token_id, bool) or not isinstance(eos_token_id, int):
            raise ValueError(f"NMST eos_token_id must be an int, got {eos_token_id!r}")
        if not 0 <= eos_token_id < vocab_size:
            raise ValueError(f"NMST eos_token_id must lie in [0, {vocab_size}), got {eos_token_id}")
        self.epsilon = check_epsilon(epsilon)
        self.eos_token_id = eos_token_id
        self.pad_token_id = eos_token_id
        self.backbone = SequenceModel(vocab_size=vocab_size, **backbone)
        self.vocab_size = vocab_size

    # -- interface members delegated to the backbone -------------------------------------------------
    @property
    def is_causal(self) -> bool:
        return self.backbone.is_causal

    @property
    def d_model(self) -> int:
        return self.backbone.d_model

    @property
    def n_layers(self) -> int:
        return self.backbone.n_layers

    @property
    def context_length(self) -> int | None:
        return self.backbone.context_length

    def _head(self, raw: torch.Tensor, t) -> torch.Tensor:
        return nmst_log_probs(raw, t, self.eos_token_id, self.epsilon)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        raw = self.backbone(ids)
        t = torch.arange(1, ids.shape[1] + 1, device=ids.device)
        return self._head(raw, t)

    def logits(self, ids: torch.Tensor, mask=None) -> torch.Tensor:
        self.backbone._lm_mask(mask, ids.shape)
        return self(ids)

    def prefill(self, ids: torch.Tensor, mask=None):
        self.backbone._lm_mask(mask, ids.shape)
        raw, state = self.backbone.forward_with_state(ids)
        return self._head(raw[:, -1], state["t"]), state

    def step(self, tokens: torch.Tensor, state):
        raw, state = self.backbone.step(tokens, state)
        return self._head(raw, state["t"]), state

    def reorder_state(self, state, index: torch.Tensor):
        return self.backbone.reorder_state(state, index)

    def hidden_states(self, ids: torch.Tensor, mask=None):
        return self.backbone.hidden_states(ids, mask)

    def input_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        return self.backbone.input_embeddings(ids)

    def encode(self, texts):
        return self.backbone.encode(texts)

    def decode(self, ids):
        return self.backbone.decode(ids)


ST_PAPER = Paper(
    "Consistency of a Recurrent Language Model With Respect to Incomplete Decoding", "2002.02492"
)


@register("model", "st_lm", implements=ST_PAPER, used_by=["A Non-monotonic Self-terminating Language Model"])
class STLanguageModel(NMSTLanguageModel):
    """The self-terminating (ST) LM of Welleck et al. 2020 (arXiv 2002.02492), the baseline NMST relaxes.

    Same backbone and interface as :class:`NMSTLanguageModel`; the head is :func:`st_log_probs`, whose
    ``1 - p(eos|t)`` is the running product ``prod_{tau <= t} (1 - epsilon) sigmoid(u_eos . h_tau)``, so
    the decoding state carries ``log alpha_t`` beside the backbone's state: ``{"backbone", "log_alpha"}``.
    """

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return st_log_probs(self.backbone(ids), self.eos_token_id, self.epsilon)[0]

    def prefill(self, ids: torch.Tensor, mask=None):
        self.backbone._lm_mask(mask, ids.shape)
        raw, state = self.backbone.forward_with_state(ids)
        lp, log_alpha = st_log_probs(raw, self.eos_token_id, self.epsilon)
        return lp[:, -1], {"backbone": state, "log_alpha": log_alpha}

    def step(self, tokens: torch.Tensor, state):
        self._check_st_state(state)
        raw, inner = self.backbone.step(tokens, state["backbone"])
        lp, log_alpha = st_log_probs(raw[:, None], self.eos_token_id, self.epsilon, state["log_alpha"])
        return lp[:, 0], {"backbone": inner, "log_alpha": log_alpha}

    def reorder_state(self, state, index: torch.Tensor):
        self._check_st_state(state)
        return {
            "backbone": self.backbone.reorder_state(state["backbone"], index),
            "log_alpha": state["log_alpha"].index_select(0, index),
        }

    @staticmethod
    def _check_st_state(state) -> None:
        if not isinstance(state, dict) or set(state) != {"backbone", "log_alpha"}:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"STLanguageModel expects a state {{'backbone', 'log_alpha'}} from prefill, got {got}"
            )
