"""Layer-by-layer analysis of token representations.

**Representation flow** ("A Comparative Analysis of Contextual Representation Flow in State-Space and
Transformer Architectures", Hoang et al., arXiv 2510.06640): for hidden states ``h^l`` of every layer,

* ``consecutive_cka``: linear CKA between the token representations of layers ``l`` and ``l + 1``
  (all real tokens of all prompts as the samples);
* ``token_similarity``: mean pairwise cosine similarity of the tokens of one prompt, averaged over
  prompts (1 = every token has the same direction: homogenised / over-smoothed);
* ``layer_stability``: mean cosine similarity of each token's representation at ``l`` and ``l + 1``;
* ``probe_accuracy``: accuracy of a ridge-regression linear probe (one-vs-rest least squares on
  standardised features, closed form) trained per layer.

**Intermediate-layer quality** ("Does Representation Matter? Exploring Intermediate Layers in Large
Language Models", Skean et al., arXiv 2412.09563), per layer and prompt:

* ``prompt_entropy``: matrix-based Renyi entropy of order ``alpha`` of the token Gram matrix.
  With ``Z`` the ``(T, d)`` token states, ``K = Z Z^T`` and ``A = K / tr K`` (eigenvalues
  ``lambda_i >= 0`` summing to 1), ``S_alpha = log2(sum_i lambda_i^alpha) / (1 - alpha)``;
  ``alpha = 1`` is the von Neumann limit ``-sum lambda_i log2 lambda_i``. High = tokens spread
  over many directions, 0 = all tokens on one line;
* ``curvature``: mean angle (radians) between consecutive steps of the token trajectory,
  ``v_k = z_{k+1} - z_k``, ``mean_k arccos(<v_k, v_{k+1}> / (|v_k| |v_{k+1}|))`` (0 = a straight line);
* ``augmentation_invariance``: the InfoNCE loss between the mean-pooled, unit-normalised
  representations of prompts and of their augmentations (temperature ``tau``); lower = the layer
  maps a prompt and its perturbed copy closer together than to other prompts.
* ``best_layers``: the layer each metric picks (its extremum) beside the layer of best probe accuracy.
"""

from __future__ import annotations

import math
import random

import torch

from seqlab.probe.extract import layer_states
from seqlab.probe.similarity import FLOW_TITLE, as_matrix, cka
from seqlab.registry import Paper, register

INTERMEDIATE = Paper(
    "Does Representation Matter? Exploring Intermediate Layers in Large Language Models", "2412.09563"
)
FLOW = Paper(FLOW_TITLE, "2510.06640")


def _states(h: torch.Tensor, mask: torch.Tensor | None, name: str = "hidden") -> list[torch.Tensor]:
    """Per-prompt ``(T_i, d)`` float64 token states from ``(B, T, d)`` plus an optional 0/1 mask."""
    if not isinstance(h, torch.Tensor) or h.dim() != 3:
        raise ValueError(f"{name} must be a (B, T, d) tensor of token states, got {getattr(h, 'shape', h)}")
    if not bool(torch.isfinite(h).all()):
        raise ValueError(f"{name} holds NaN or inf: non-finite activations")
    if mask is not None and tuple(mask.shape) != tuple(h.shape[:2]):
        raise ValueError(f"mask must have shape {tuple(h.shape[:2])} (B, T), got {tuple(mask.shape)}")
    h = h.detach().double()
    if mask is None:
        return list(h)
    return [h[i][mask[i].bool()] for i in range(h.shape[0])]


def pooled(h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the real tokens of each prompt: ``(B, d)``."""
    return torch.stack([z.mean(0) for z in _states(h, mask)])


def tokens(h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """All real tokens of all prompts as rows ``(N, d)``."""
    return torch.cat(_states(h, mask))


# -- flow ------------------------------------------------------------------------------------------
@register("probe", "layer_flow", implements=FLOW, used_by=[FLOW_TITLE], family="layers")
def layer_flow(states, mask: torch.Tensor | None = None, labels=None, *, seed: int = 0) -> dict:
    """Per-layer flow table from ``states`` (a sequence of ``(B, T, d)``, index 0 = embeddings).

    Returns lists: ``consecutive_cka`` (length L), ``stability`` (L), ``token_similarity`` (L + 1)
    and, when prompt ``labels`` are given, ``probe_accuracy`` (L + 1) of mean-pooled states.
    """
    if len(states) < 2:
        raise ValueError(f"layer_flow needs at least 2 layers of states, got {len(states)}")
    out = {
        "consecutive_cka": [cka(tokens(a, mask), tokens(b, mask)) for a, b in zip(states, states[1:])],
        "stability": [layer_stability(a, b, mask) for a, b in zip(states, states[1:])],
        "token_similarity": [token_similarity(h, mask) for h in states],
    }
    if labels is not None:
        out["probe_accuracy"] = [probe_accuracy(pooled(h, mask), labels, seed=seed) for h in states]
    return out


def token_similarity(h: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean pairwise cosine similarity of the tokens of each prompt (prompts of >= 2 tokens)."""
    vals = []
    for z in _states(h, mask):
        if len(z) < 2:
            continue
        u = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
        c = u @ u.T
        n = len(z)
        vals.append(float((c.sum() - c.diagonal().sum()) / (n * (n - 1))))
    if not vals:
        raise ValueError("token_similarity needs prompts of at least 2 tokens")
    return sum(vals) / len(vals)


def layer_stability(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean cosine similarity of each token's representation in two layers (same d)."""
    x, y = tokens(a, mask), tokens(b, mask)
    if x.shape != y.shape:
        raise ValueError(
            f"layer_stability needs states of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    return float(torch.nn.functional.cosine_similarity(x, y, dim=1).mean())


def ridge_classifier(X: torch.Tensor, y: torch.Tensor, n_classes: int, ridge: float = 1.0):
    """Closed-form one-vs-rest least squares on standardised features: ``(W, b, mean, std)``."""
    mu, sd = X.mean(0), X.std(0).clamp_min(1e-8)
    Z = (X - mu) / sd
    Y = torch.nn.functional.one_hot(y, n_classes).double() * 2 - 1
    Z1 = torch.cat([Z, torch.ones(len(Z), 1, dtype=Z.dtype)], 1)
    reg = ridge * torch.eye(Z1.shape[1], dtype=Z.dtype)
    reg[-1, -1] = 0.0  # no penalty on the bias
    if Z1.shape[0] >= Z1.shape[1]:
        W = torch.linalg.solve(Z1.T @ Z1 + reg, Z1.T @ Y)
    else:  # dual form: W = Z1^T (Z1 Z1^T + ridge I)^-1 Y (bias penalised slightly too)
        W = Z1.T @ torch.linalg.solve(Z1 @ Z1.T + ridge * torch.eye(len(Z1), dtype=Z.dtype), Y)
    return W, mu, sd


def probe_accuracy(
    X, labels, *, train_frac: float = 0.6, ridge: float = 1.0, seed: int = 0, split=None
) -> float:
    """Test accuracy of a ridge linear probe on features ``X`` (N, d) with integer ``labels`` (N,).

    The split is a seeded permutation (``train_frac`` to train), or ``split=(train_idx, test_idx)``.
    """
    X = as_matrix(X, "X")
    y = torch.as_tensor(labels).long()
    if y.dim() != 1 or len(y) != len(X):
        raise ValueError(f"labels must be (N,) = ({len(X)},) integers, got shape {tuple(y.shape)}")
    if split is None:
        if not 0 < train_frac < 1:
            raise ValueError(f"train_frac must lie in (0, 1), got {train_frac!r}")
        perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
        k = int(round(train_frac * len(X)))
        split = (perm[:k], perm[k:])
    tr, te = (torch.as_tensor(s).long() for s in split)
    if len(tr) < 2 or len(te) < 1:
        raise ValueError(
            f"probe_accuracy needs >= 2 training and >= 1 test samples, got {len(tr)} / {len(te)}"
        )
    n_classes = int(y.max()) + 1
    W, mu, sd = ridge_classifier(X[tr], y[tr], n_classes, ridge)
    Z = torch.cat([(X[te] - mu) / sd, torch.ones(len(te), 1, dtype=X.dtype)], 1)
    return float(((Z @ W).argmax(1) == y[te]).double().mean())


# -- intermediate-layer metrics -----------------------------------------------------------------------
def renyi_entropy(z: torch.Tensor, alpha: float = 1.0) -> float:
    """Matrix-based Renyi entropy (bits) of the trace-normalised Gram matrix of the rows of ``z``."""
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    K = z @ z.T
    tr = float(torch.trace(K))
    if tr <= 0:
        raise ValueError("prompt_entropy: all token states are zero")
    lam = torch.linalg.eigvalsh(K / tr).clamp_min(0.0)
    lam = lam[lam > 1e-15]
    if abs(alpha - 1.0) < 1e-9:
        return float(-(lam * torch.log2(lam)).sum())
    return float(torch.log2((lam**alpha).sum()) / (1.0 - alpha))


@register("probe", "prompt_entropy", implements=INTERMEDIATE, used_by=[INTERMEDIATE.title], family="layers")
def prompt_entropy(h: torch.Tensor, mask: torch.Tensor | None = None, alpha: float = 1.0) -> float:
    """Mean over prompts of the matrix-based Renyi entropy of order ``alpha`` of the token Gram matrix."""
    vals = [renyi_entropy(z, alpha) for z in _states(h, mask)]
    return sum(vals) / len(vals)


@register("probe", "curvature", implements=INTERMEDIATE, used_by=[INTERMEDIATE.title], family="layers")
def curvature(h: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean angle (radians) between consecutive steps of each prompt's token trajectory (>= 3 tokens)."""
    vals = []
    for z in _states(h, mask):
        if len(z) < 3:
            continue
        v = z[1:] - z[:-1]
        n = v.norm(dim=1)
        ok = (n[:-1] > 1e-12) & (n[1:] > 1e-12)
        cos = (v[:-1] * v[1:]).sum(1) / (n[:-1] * n[1:]).clamp_min(1e-30)
        ang = torch.arccos(cos.clamp(-1.0, 1.0))[ok]
        if ang.numel():
            vals.append(float(ang.mean()))
    if not vals:
        raise ValueError("curvature needs prompts of at least 3 tokens with distinct states")
    return sum(vals) / len(vals)


def info_nce(a: torch.Tensor, b: torch.Tensor, tau: float = 0.1) -> float:
    """Symmetric InfoNCE loss (nats) of paired rows of ``a`` and ``b`` (N, d) after unit-normalising."""
    a, b = as_matrix(a, "a"), as_matrix(b, "b")
    if a.shape != b.shape or len(a) < 2:
        raise ValueError(f"info_nce needs two (N >= 2, d) views of the same shape, got {a.shape} / {b.shape}")
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)
    logits = a @ b.T / tau
    target = torch.arange(len(a))
    f = torch.nn.functional.cross_entropy
    return float((f(logits, target) + f(logits.T, target)) / 2)


@register(
    "probe", "augmentation_invariance", implements=INTERMEDIATE, used_by=[INTERMEDIATE.title], family="layers"
)
def augmentation_invariance(h, h_aug, mask=None, mask_aug=None, tau: float = 0.1) -> float:
    """InfoNCE between mean-pooled states of prompts and of their augmentations (lower = invariant)."""
    return info_nce(pooled(h, mask), pooled(h_aug, mask_aug), tau)


def augment(text: str, seed: int, p: float = 0.1) -> str:
    """A perturbed copy: each word dropped, or two adjacent characters swapped, with probability ``p``."""
    rng = random.Random(seed)
    out = []
    for w in text.split():
        r = rng.random()
        if r < p / 2 and len(text.split()) > 2:
            continue
        if r < p and len(w) > 3:
            i = rng.randrange(len(w) - 1)
            w = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
        out.append(w)
    return " ".join(out) or text


def layer_metrics(lm, texts: list[str], labels=None, *, seed: int = 0, alpha: float = 1.0) -> dict:
    """Every per-layer metric of ``lm`` on ``texts`` (and a sentiment-style probe when ``labels``)."""
    ids, mask = lm.encode(texts)
    states = layer_states(lm, ids, mask)
    aug_ids, aug_mask = lm.encode([augment(t, seed * 7919 + i) for i, t in enumerate(texts)])
    aug = layer_states(lm, aug_ids, aug_mask)
    out = layer_flow(states, mask, labels, seed=seed)
    out["prompt_entropy"] = [prompt_entropy(h, mask, alpha) for h in states]
    out["curvature"] = [curvature(h, mask) for h in states]
    out["augmentation_invariance"] = [
        augmentation_invariance(a, b, mask, aug_mask) for a, b in zip(states, aug)
    ]
    return out


def best_layers(metrics: dict) -> dict:
    """The layer each metric picks: lowest entropy / curvature / InfoNCE, highest probe accuracy."""
    out = {}
    for key, pick in (
        ("prompt_entropy", min),
        ("curvature", min),
        ("augmentation_invariance", min),
        ("probe_accuracy", max),
    ):
        vals = metrics.get(key)
        if vals:
            best = pick(v for v in vals if not math.isnan(v))
            out[key] = vals.index(best)
    return out
