"""Invertibility of causal language models: the collision test and SipIt.

"Language Models are Injective and Hence Invertible" (Nikolaou et al., arXiv 2510.15511).

**Collision test.** The map from a prompt to its last-token hidden state is injective: over many
distinct prompts the minimum pairwise distance ``min_{i<j} |h_i - h_j|_2`` stays far above 0 (the
paper counts a collision below 1e-6). :func:`collision_test` reports that minimum, the number of
pairs below ``eps`` and the number of prompts.

**SipIt** (Sequential Inverse Prompt via ITerative updates). For a causal model the state of layer
``l`` at position ``t``, ``h_t = F_l(x_1..x_{t-1}, x_t)``, depends only on the prefix and the token at
``t``, and for a fixed prefix it is injective in ``x_t``. Knowing the prefix recovered so far,
position ``t`` is recovered by searching the vocabulary for the token ``v`` whose state matches::

    x_t = the first v (in a candidate order) with |F_l(x_<t, v) - h_t| <= tol * max(1, |h_t|)

checking candidates in batches of growing size (1, 4, 16, ... up to ``batch``). Every order visits
the whole vocabulary, so the search is exact
(linear in the sequence length, at most ``V`` candidates a position); the order only sets the cost:

* ``"gradient"`` -- the paper's policy: a continuous proxy ``e`` for the token's embedding is moved by
  ``grad_steps`` Adam steps on ``|F_l(x_<t, e) - h_t|^2 / |h_t|^2`` and candidates are visited by
  their embedding's distance to ``e``;
* ``"linear"`` -- seqlab's cheap policy: a ridge map from unit-normalised layer-``l`` states to input
  embeddings, fitted once on the model's own states of some token sequences
  (:func:`fit_linear_inverse`), ranks candidates by cosine similarity to the predicted embedding;
* ``"scan"`` -- vocabulary order (the exhaustive baseline).

``max_candidates`` caps the search per position (then a position may be left unrecovered: the
token with the smallest distance seen is returned and the position counted as not exact).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from seqlab.probe.extract import check_hidden, check_layer, embedding_table, layer_function
from seqlab.registry import Paper, register

INJECTIVE = Paper("Language Models are Injective and Hence Invertible", "2510.15511")
ORDERS = ("gradient", "linear", "scan")


def _needs_causal(lm, what: str) -> None:
    if not getattr(lm, "is_causal", False):
        raise ValueError(f"{what} needs a causal language model (state at t depends on tokens <= t only)")


@torch.no_grad()
def last_token_states(lm, ids: torch.Tensor, layer: int = -1, mask=None, batch: int = 64) -> torch.Tensor:
    """``(B, d)`` float32 states of ``layer`` at the last real token of each row of ``ids``."""
    layer = check_layer(lm, layer)
    if hasattr(lm, "eval"):
        lm.eval()
    out = []
    for i in range(0, ids.shape[0], batch):
        m = None if mask is None else mask[i : i + batch]
        h = lm.hidden_states(ids[i : i + batch], m)[layer].float()
        if m is None or getattr(lm, "padding_side", "left") != "right":
            out.append(h[:, -1])  # left padding (or none): the last column is the last token
        else:
            last = m.long().sum(1) - 1
            out.append(h[torch.arange(h.shape[0]), last])
    return torch.cat(out)


@register("probe", "collision_test", implements=INJECTIVE, used_by=[INJECTIVE.title], family="invertibility")
def collision_test(lm, ids: torch.Tensor, layer: int = -1, mask=None, eps: float = 1e-6) -> dict:
    """Minimum pairwise L2 distance of last-token states of the rows of ``ids`` (distinct prompts).

    Returns ``{"prompts", "pairs", "min_distance", "collisions" (pairs closer than eps), "layer"}``.
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.shape[0] < 2:
        raise ValueError(
            f"collision_test expects ids of shape (prompts >= 2, length), got {getattr(ids, 'shape', ids)}"
        )
    rows = ids if mask is None else ids * mask
    if len({tuple(r.tolist()) for r in rows}) != ids.shape[0]:
        raise ValueError("collision_test expects distinct prompts (two rows of ids are identical)")
    layer = check_layer(lm, layer)
    return {**pairwise_collisions(last_token_states(lm, ids, layer, mask), eps), "layer": layer}


def pairwise_collisions(h: torch.Tensor, eps: float = 1e-6) -> dict:
    """``{"prompts", "pairs", "min_distance", "collisions"}`` of the rows of ``h`` (N, d), in float64."""
    h = h.double()
    if not bool(torch.isfinite(h).all()):
        raise ValueError("collision_test: the model produced NaN or inf hidden states")
    d = torch.cdist(h, h)
    iu = torch.triu_indices(len(h), len(h), 1)
    pair = d[iu[0], iu[1]]
    return {
        "prompts": int(h.shape[0]),
        "pairs": int(pair.numel()),
        "min_distance": float(pair.min()),
        "collisions": int((pair < eps).sum()),
    }


@dataclass
class LinearInverse:
    """Ridge map from unit-normalised layer states ``(d,)`` to input embeddings ``(d_e,)``."""

    layer: int
    weight: torch.Tensor

    def predict(self, hidden: torch.Tensor) -> torch.Tensor:
        return (hidden / hidden.norm(dim=-1, keepdim=True).clamp_min(1e-12)) @ self.weight


@torch.no_grad()
def fit_linear_inverse(lm, layer: int, ids: torch.Tensor, ridge: float = 1e-2) -> LinearInverse:
    """Fit the ``"linear"`` candidate order on the states of ``ids`` (B, T) (unpadded rows)."""
    layer = check_layer(lm, layer)
    E = embedding_table(lm)
    H = layer_function(lm, layer)(E[ids]).reshape(-1, E.shape[1]).double()
    X = E[ids].reshape(-1, E.shape[1]).double()
    Hn = H / H.norm(dim=1, keepdim=True).clamp_min(1e-12)
    A = Hn.T @ Hn + ridge * len(Hn) / Hn.shape[1] * torch.eye(Hn.shape[1], dtype=torch.float64)
    return LinearInverse(layer, torch.linalg.solve(A, Hn.T @ X).float())


@dataclass
class SipItResult:
    """Recovered ids ``(B, T)``; per position: candidates checked, best distance, exact match found."""

    ids: torch.Tensor
    checked: torch.Tensor
    distance: torch.Tensor
    exact: torch.Tensor
    seconds: float = 0.0
    info: dict = field(default_factory=dict)


def _order(order, f, E, prefix, target, t, inverse, grad_steps, lr):
    if order == "scan":
        return torch.arange(E.shape[0])
    if order == "linear":
        p = inverse.predict(target[None])[0]
        return torch.nn.functional.cosine_similarity(E, p[None], dim=1).argsort(descending=True)
    e = E.mean(0).clone().requires_grad_(True)
    opt = torch.optim.Adam([e], lr=lr)
    scale = target.pow(2).sum().clamp_min(1e-12)
    for _ in range(grad_steps):
        with torch.enable_grad():
            h = f(torch.cat([prefix, e[None]])[None])[0, t]
            loss = (h - target).pow(2).sum() / scale
            opt.zero_grad()
            loss.backward()
        opt.step()
    return torch.cdist(e.detach()[None], E)[0].argsort()


def _growing_chunks(cand: torch.Tensor, batch: int):
    """Candidates in batches of 1, 4, 16, ... up to ``batch``: a good order stops after a tiny batch."""
    size, i = 1, 0
    while i < len(cand):
        yield cand[i : i + size]
        i += size
        size = min(batch, size * 4)


@register("probe", "sipit", implements=INJECTIVE, used_by=[INJECTIVE.title], family="invertibility")
def sipit(lm, hidden: torch.Tensor, layer: int, **kw) -> torch.LongTensor:
    """Token ids ``(T,)`` or ``(B, T)`` recovered from ``hidden = lm.hidden_states(ids)[layer]``.

    Keywords as :func:`sipit_search` (``order``, ``batch``, ``tol``, ``max_candidates``, ...).
    """
    res = sipit_search(lm, hidden, layer, **kw)
    return res.ids[0] if hidden.dim() == 2 else res.ids


def sipit_search(
    lm,
    hidden: torch.Tensor,
    layer: int,
    *,
    order: str = "gradient",
    inverse: LinearInverse | None = None,
    batch: int = 128,
    tol: float = 1e-3,
    max_candidates: int | None = None,
    grad_steps: int = 10,
    lr: float = 0.05,
) -> SipItResult:
    """SipIt with statistics (see the module docstring); rows of ``hidden`` (unpadded) are independent."""
    _needs_causal(lm, "SipIt")
    layer = check_layer(lm, layer)
    hidden = check_hidden(hidden, int(lm.d_model))
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if order == "linear" and (inverse is None or inverse.layer != layer):
        raise ValueError(f"order='linear' needs inverse=fit_linear_inverse(lm, {layer}, ids) for this layer")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive int, got {batch!r}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    f = layer_function(lm, layer)
    E = embedding_table(lm)
    V = E.shape[0]
    limit = V if max_candidates is None else max(1, min(int(max_candidates), V))
    B, T, _ = hidden.shape
    ids = torch.zeros(B, T, dtype=torch.long)
    checked = torch.zeros(B, T, dtype=torch.long)
    dist = torch.zeros(B, T, dtype=torch.float64)
    exact = torch.zeros(B, T, dtype=torch.bool)
    t0 = time.perf_counter()
    for b in range(B):
        for t in range(T):
            target = hidden[b, t].float()
            prefix = E[ids[b, :t]]
            cand = _order(order, f, E, prefix, target, t, inverse, grad_steps, lr)[:limit]
            bound = tol * max(1.0, float(target.norm()))
            best, best_d, n = -1, float("inf"), 0
            with torch.no_grad():
                for chunk in _growing_chunks(cand, batch):
                    x = torch.cat([prefix.expand(len(chunk), t, -1), E[chunk][:, None]], 1)
                    d = (f(x)[:, t].float() - target).norm(dim=1)
                    j = int(d.argmin())
                    n += len(chunk)
                    if float(d[j]) < best_d:
                        best, best_d = int(chunk[j]), float(d[j])
                    if best_d <= bound:
                        break
            ids[b, t], checked[b, t], dist[b, t], exact[b, t] = best, n, best_d, best_d <= bound
    return SipItResult(ids, checked, dist, exact, time.perf_counter() - t0, {"order": order, "layer": layer})
