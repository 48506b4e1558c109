"""Magnitude-coded ("onion") representations of a sequence in one recurrent state.

Paper: Csordas, Potts, Manning, Geiger, "Recurrent Neural Networks Learn to Store and Generate
Sequences using Non-Linear Representations" (arXiv 2408.10920). A small gated RNN trained to repeat
its input stores the token at each position not in its own linear subspace but at its own order of
magnitude in a shared one: an ``onion`` of layers. Here, with ``h`` the state that holds the whole
sequence ``x_1..x_P``, the onion model is

    h  ~  b + sum_p gamma_p E[x_p]           (one scalar gamma_p per position, one shared table E (V, d))

:func:`fit_onion` estimates ``(b, gamma, E)`` by alternating least squares (for fixed ``gamma`` the
model is linear in ``(b, E)``; for fixed ``E`` it is linear in ``(b, gamma)``), and
:func:`decode_onion` reads the tokens back by peeling: positions in order of decreasing ``|gamma_p|``,
each the token ``v`` minimising ``|r - gamma_p E[v]|^2`` of the residual ``r``, then subtracted; a few
coordinate-descent passes re-decide each position with the others fixed. The decoder is non-linear
(it conditions each read-out on the magnitude band left after the larger layers are removed), unlike
:func:`linear_probe_accuracy`, one ridge classifier per position. :func:`onion_intervention` writes a
new token into a position of the state: ``h' = h + gamma_p (E[v'] - E[x_p])``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqlab.probe.layers import probe_accuracy
from seqlab.probe.similarity import as_matrix
from seqlab.registry import Paper, register

PAPER = Paper(
    "Recurrent Neural Networks Learn to Store and Generate Sequences using Non-Linear Representations",
    "2408.10920",
)


@dataclass
class Onion:
    """The fitted onion model ``h ~ bias + sum_p gamma[p] * table[x_p]``."""

    bias: torch.Tensor  # (d,)
    gamma: torch.Tensor  # (P,)
    table: torch.Tensor  # (V, d)

    def reconstruct(self, tokens: torch.Tensor) -> torch.Tensor:
        """The model's state for token rows ``(N, P)``: ``(N, d)``."""
        return self.bias + torch.einsum("p,npd->nd", self.gamma, self.table[tokens])


def _check(states, tokens, n_tokens: int | None = None):
    h = as_matrix(states, "states")
    x = torch.as_tensor(tokens)
    if x.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8) or x.dim() != 2:
        raise ValueError(f"tokens must be an (N, P) integer tensor, got {getattr(x, 'dtype', type(x))}")
    if len(x) != len(h):
        raise ValueError(f"states and tokens need the same number of samples, got {len(h)} and {len(x)}")
    x = x.long()
    if int(x.min()) < 0 or (n_tokens is not None and int(x.max()) >= n_tokens):
        raise ValueError(f"token ids must lie in [0, {n_tokens}), got [{int(x.min())}, {int(x.max())}]")
    return h, x


@register("probe", "onion_fit", implements=PAPER, used_by=[PAPER.title], family="onion")
def fit_onion(states, tokens, n_tokens: int, *, iters: int = 60, ridge: float = 1e-6, seed: int = 0) -> Onion:
    """Alternating least squares for ``h ~ b + sum_p gamma_p E[x_p]`` on states ``(N, d)``, tokens ``(N, P)``.

    ``gamma`` starts at seeded random values in ``[0.5, 1.5]`` (equal values are a saddle where positions
    cannot be told apart); ``ridge`` regularises both solves.
    """
    h, x = _check(states, tokens, n_tokens)
    n, P = x.shape
    if n < P + 2:
        raise ValueError(f"fit_onion needs more samples than positions, got N={n}, P={P}")
    onehot = torch.nn.functional.one_hot(x, n_tokens).double()  # (N, P, V)
    ones = torch.ones(n, 1, dtype=torch.float64)
    gamma = 0.5 + torch.rand(P, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    for _ in range(iters):
        A = torch.cat([ones, torch.einsum("p,npv->nv", gamma, onehot)], 1)  # (N, 1 + V)
        sol = torch.linalg.solve(A.T @ A + ridge * torch.eye(A.shape[1], dtype=A.dtype), A.T @ h)
        table = sol[1:]
        feats = onehot @ table  # (N, P, d): E[x_p]
        # h - b = sum_p gamma_p feats[:, p]: least squares in (b, gamma) over all N * d coordinates
        eye = torch.eye(h.shape[1], dtype=h.dtype).repeat(n, 1)
        M = torch.cat([eye, feats.permute(0, 2, 1).reshape(-1, P)], 1)
        reg = ridge * torch.eye(M.shape[1], dtype=M.dtype)
        sol = torch.linalg.solve(M.T @ M + reg, M.T @ h.reshape(-1))
        gamma = sol[h.shape[1] :]
        scale = gamma.abs().max().clamp_min(1e-12)  # keep gamma O(1): the table absorbs the scale
        gamma = gamma / scale
    A = torch.cat([ones, torch.einsum("p,npv->nv", gamma, onehot)], 1)
    sol = torch.linalg.solve(A.T @ A + ridge * torch.eye(A.shape[1], dtype=A.dtype), A.T @ h)
    return Onion(sol[0], gamma, sol[1:])


def onion_logits(onion: Onion, states, tokens, temperature=1.0) -> torch.Tensor:
    """Peeling logits ``(N, P, V)`` with the true earlier tokens removed (teacher forcing): for ``p`` in
    order of decreasing ``|gamma_p|``, ``-|r_p - gamma_p E[v]|^2 / temperature``, then
    ``r <- r_p - gamma_p E[x_p]``."""
    r = states - onion.bias
    out = [None] * len(onion.gamma)
    for p in torch.argsort(onion.gamma.detach().abs(), descending=True).tolist():
        cand = onion.gamma[p] * onion.table  # (V, d)
        out[p] = -((r[:, None, :] - cand[None]) ** 2).sum(-1) / temperature
        r = r - onion.gamma[p] * onion.table[tokens[:, p]]
    return torch.stack(out, 1)


@register("probe", "onion_train", implements=PAPER, used_by=[PAPER.title], family="onion")
def train_onion(states, tokens, n_tokens: int, *, steps: int = 300, lr: float = 0.03, seed: int = 0) -> Onion:
    """The onion probe fitted to *decode*: :func:`fit_onion`'s least-squares model refined by Adam on the
    cross-entropy of the peeling read-out (:func:`onion_logits`, true earlier tokens removed), with a
    learned temperature. Only ``(b, gamma, E)`` are kept: decoding is :func:`decode_onion`."""
    h, x = _check(states, tokens, n_tokens)
    init = fit_onion(h, x, n_tokens, seed=seed)
    bias, gamma, table = (t.clone().requires_grad_(True) for t in (init.bias, init.gamma, init.table))
    resid = h - init.reconstruct(x)
    log_t = torch.tensor(float(2 * resid.pow(2).sum(1).mean().clamp_min(1e-8).log()), dtype=h.dtype)
    log_t.requires_grad_(True)
    opt = torch.optim.Adam([bias, gamma, table, log_t], lr=lr)
    for _ in range(steps):
        logits = onion_logits(Onion(bias, gamma, table), h, x, log_t.exp())
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), x.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return Onion(bias.detach(), gamma.detach(), table.detach())


@register("probe", "onion_decode", implements=PAPER, used_by=[PAPER.title], family="onion")
def decode_onion(onion: Onion, states, passes: int = 2) -> torch.Tensor:
    """Tokens ``(N, P)`` read from states ``(N, d)`` by peeling magnitude layers, largest ``|gamma|``
    first."""
    h = as_matrix(states, "states")
    if h.shape[1] != onion.table.shape[1]:
        raise ValueError(f"states must have d={onion.table.shape[1]} columns, got {h.shape[1]}")
    P = len(onion.gamma)
    r = h - onion.bias
    out = torch.zeros(len(h), P, dtype=torch.long)

    def best(res, p):
        cand = onion.gamma[p] * onion.table  # (V, d)
        return torch.cdist(res, cand).argmin(1)

    for p in torch.argsort(onion.gamma.abs(), descending=True).tolist():
        out[:, p] = best(r, p)
        r = r - onion.gamma[p] * onion.table[out[:, p]]
    for _ in range(passes):
        for p in range(P):
            r = r + onion.gamma[p] * onion.table[out[:, p]]
            out[:, p] = best(r, p)
            r = r - onion.gamma[p] * onion.table[out[:, p]]
    return out


def onion_intervention(onion: Onion, states, tokens, position: int, new_tokens) -> torch.Tensor:
    """States with the token at ``position`` replaced: ``h + gamma_p (E[new] - E[old])``."""
    h, x = _check(states, tokens, onion.table.shape[0])
    if not 0 <= position < x.shape[1]:
        raise ValueError(f"position must lie in [0, {x.shape[1]}), got {position}")
    new = torch.as_tensor(new_tokens).long()
    if new.shape != (len(h),):
        raise ValueError(f"new_tokens must have shape ({len(h)},), got {tuple(new.shape)}")
    return h + onion.gamma[position] * (onion.table[new] - onion.table[x[:, position]])


def linear_probe_accuracy(train_states, train_tokens, test_states, test_tokens, ridge: float = 1.0) -> list:
    """Per position, the test accuracy of a ridge linear probe (one-vs-rest least squares) ``h -> x_p``."""
    htr, xtr = _check(train_states, train_tokens)
    hte, xte = _check(test_states, test_tokens)
    X = torch.cat([htr, hte])
    tr, te = torch.arange(len(htr)), torch.arange(len(htr), len(X))
    return [
        probe_accuracy(X, torch.cat([xtr[:, p], xte[:, p]]), split=(tr, te), ridge=ridge)
        for p in range(xtr.shape[1])
    ]
