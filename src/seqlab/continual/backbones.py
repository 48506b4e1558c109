"""Small backbones for continual learning. Every model exposes ``features(x)`` and ``head``.

- :class:`MLP`: the fully connected network of "Three scenarios for continual learning"
  (arXiv 1904.07734): ``x -> ReLU(W1 x) -> ReLU(W2 h) -> head``, 2 hidden layers of 400 units.
- :func:`simplex_vertices`: the fixed d-simplex classifier of "Stationary Representations:
  Optimally Approximating Compatibility ...", Biondi et al.): ``K`` unit vectors in ``R^(K-1)``
  with pairwise cosine ``-1/(K-1)``.
- :func:`pretrained_encoder`: a "frozen pretrained backbone" that stays offline: an MLP trained
  inside the run on a *different* data set (scikit-learn digits, upsampled to the target shape), then
  frozen. Cached per (shape, seed) inside a process.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.train import fit


class MLP(nn.Module):
    """``n_layers`` ReLU layers of ``hidden`` units and a linear head over ``n_outputs`` units."""

    def __init__(
        self, d_in: int, n_outputs: int, hidden: int = 400, n_layers: int = 2, d_feat: int | None = None
    ):
        super().__init__()
        if d_in < 1 or n_outputs < 1 or n_layers < 1:
            raise ValueError(f"MLP needs d_in, n_outputs, n_layers >= 1, got {d_in}, {n_outputs}, {n_layers}")
        dims = [d_in] + [hidden] * n_layers
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        if d_feat is not None:  # an extra linear bottleneck (e.g. the K-1 dims a simplex head needs)
            layers.append(nn.Linear(hidden, d_feat))
        self.body = nn.Sequential(*layers)
        self.d_feat = d_feat or hidden
        self.head = nn.Linear(self.d_feat, n_outputs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or not x.is_floating_point():
            raise ValueError(f"MLP expects float inputs (batch, d_in), got {x.dtype} {tuple(x.shape)}")
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def simplex_vertices(k: int) -> torch.Tensor:
    """``(k, k-1)`` rows: the vertices of a regular simplex centred at 0, unit norm."""
    if k < 2:
        raise ValueError(f"a simplex needs k >= 2 classes, got {k}")
    e = torch.eye(k, dtype=torch.float64) - 1.0 / k  # centred standard basis, lies in a (k-1)-dim subspace
    q, _ = torch.linalg.qr(e.T)  # orthonormal basis of R^k; the first k-1 columns span the subspace
    v = e @ q[:, : k - 1]
    return (v / v.norm(dim=1, keepdim=True)).float()


class SequenceClassifier(nn.Module):
    """A :class:`seqlab.models.SequenceModel` read at the last position: ``head(h_L)``."""

    def __init__(
        self, vocab_size: int, n_outputs: int, mixer: str = "lstm", d_model: int = 64, n_layers: int = 2
    ):
        super().__init__()
        from seqlab.models.sequence_model import SequenceModel

        self.net = SequenceModel(
            mixer=mixer, d_model=d_model, n_layers=n_layers, vocab_size=vocab_size, n_outputs=n_outputs
        )
        self.head = self.net.head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)[:, -1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class FrozenEncoder(nn.Module):
    """A frozen feature extractor; ``forward`` is unused (methods on top classify by their own rule)."""

    def __init__(self, encoder: MLP, n_outputs: int):
        super().__init__()
        self.encoder, self.n_outputs = encoder, n_outputs

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(x), self.n_outputs)


class FixedSimplexHead(nn.Module):
    """Linear head whose weights are the simplex vertices, stored as a buffer (never trained)."""

    def __init__(self, n_outputs: int):
        super().__init__()
        self.register_buffer("weight", simplex_vertices(n_outputs))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.weight.T


_PRETRAINED: dict[tuple, MLP] = {}


def pretrained_encoder(shape: tuple[int, ...], seed: int = 0, steps: int = 300, hidden: int = 400) -> MLP:
    """An MLP pretrained on scikit-learn digits (disjoint from the continual data), frozen."""
    key = (tuple(shape), seed, steps, hidden)
    if key in _PRETRAINED:
        return _PRETRAINED[key]
    from seqlab.continual.data import load

    ds = load("digits")
    x = ds.x_train.reshape(-1, 1, 8, 8)
    if len(shape) == 2:
        x = F.interpolate(x, size=tuple(shape), mode="bilinear", align_corners=False)
    else:
        x = F.interpolate(x.flatten(2), size=math.prod(shape), mode="linear", align_corners=False)
    x = x.flatten(1)
    y = ds.y_train

    def _batches(step):
        g = torch.Generator().manual_seed(10_000 + seed * 100_003 + step)
        idx = torch.randint(len(x), (128,), generator=g)
        return {"inputs": x[idx] + 0.1 * torch.randn(len(idx), x.shape[1], generator=g), "targets": y[idx]}

    def _loss(m, b):
        out = m(b["inputs"])
        return F.cross_entropy(out, b["targets"]), out

    with torch.random.fork_rng():  # leave the caller's RNG stream untouched (cache hits must not differ)
        torch.manual_seed(10_000 + seed)
        model = MLP(x.shape[1], ds.n_classes, hidden=hidden)
        fit(
            model, _batches, _loss, steps=steps, lr=1e-3, optimizer="adam", progress=False, seed=10_000 + seed
        )
    model.eval().requires_grad_(False)
    _PRETRAINED[key] = model
    return model
