"""Replay buffers with a hard budget.

- :class:`ReservoirBuffer`: reservoir sampling (Vitter's algorithm R): after ``n`` offers every
  example is stored with probability ``budget / n``; it never holds more than ``budget``.
- :class:`ClassBalancedBuffer`: each seen class keeps ``budget // n_classes`` slots (remainder to the
  first classes); adding a class shrinks the others by dropping their last-stored examples.
- :func:`herding`: iCaRL's exemplar selection ("iCaRL: Incremental Classifier and Representation
  Learning", arXiv 1611.07725): greedily pick ``p_k = argmin_x || mu - (1/k)(f(x) + sum_{i<k} f(p_i)) ||``.

Buffers store ``x``, ``y`` and the task id ``t`` of each example; state is tensors only, so it
checkpoints with safetensors.
"""

from __future__ import annotations

import torch


class _Buffer:
    def __init__(self, budget: int, seed: int = 0):
        if budget < 0:
            raise ValueError(f"budget must be >= 0, got {budget}")
        self.budget = budget
        self.gen = torch.Generator().manual_seed(seed)
        self.x = self.y = self.t = None

    def __len__(self) -> int:
        return 0 if self.y is None else len(self.y)

    def sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if len(self) == 0:
            raise ValueError("cannot sample from an empty buffer")
        idx = torch.randint(len(self), (n,), generator=self.gen)
        return self.x[idx], self.y[idx], self.t[idx]

    def state(self) -> dict[str, torch.Tensor]:
        if len(self) == 0:
            return {}
        return {"x": self.x, "y": self.y, "t": self.t, "gen": self.gen.get_state()}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        if state:
            self.x, self.y, self.t = state["x"], state["y"], state["t"]
            self.gen.set_state(state["gen"])


class ReservoirBuffer(_Buffer):
    """Uniform sample of everything offered so far, at most ``budget`` examples."""

    def __init__(self, budget: int, seed: int = 0):
        super().__init__(budget, seed)
        self.seen = 0

    def add(self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> None:
        for i in range(len(y)):
            self.seen += 1
            if len(self) < self.budget:
                self._append(x[i : i + 1], y[i : i + 1], t[i : i + 1])
            else:
                j = int(torch.randint(self.seen, (1,), generator=self.gen))
                if j < self.budget:
                    self.x[j], self.y[j], self.t[j] = x[i], y[i], t[i]

    def _append(self, x, y, t):
        if self.y is None:
            self.x, self.y, self.t = x.clone(), y.clone(), t.clone()
        else:
            self.x, self.y, self.t = torch.cat([self.x, x]), torch.cat([self.y, y]), torch.cat([self.t, t])

    def state(self):
        s = super().state()
        if s:
            s["seen"] = torch.tensor(self.seen)
        return s

    def load(self, state):
        super().load(state)
        if state:
            self.seen = int(state["seen"])


class ClassBalancedBuffer(_Buffer):
    """Equal slots per seen class; ``add`` takes a random (or given-order) subset per class.

    With ``by_task=True`` a "class" is a (task, label) pair, as domain-IL reuses labels across tasks.
    """

    def __init__(self, budget: int, seed: int = 0, by_task: bool = False):
        super().__init__(budget, seed)
        self.by_task = by_task

    def _keys(self, y, t):
        return t * 1_000_000 + y if self.by_task else y

    def add(self, x, y, t, order: torch.Tensor | None = None) -> None:
        """Add examples; ``order`` (indices into x) gives the preference order (e.g. herding)."""
        if order is None:
            order = torch.randperm(len(y), generator=self.gen)
        xs = [] if self.x is None else [self.x]
        ys = [] if self.y is None else [self.y]
        ts = [] if self.t is None else [self.t]
        xs.append(x[order])
        ys.append(y[order])
        ts.append(t[order])
        X, Y, T = torch.cat(xs), torch.cat(ys), torch.cat(ts)
        K = self._keys(Y, T)
        classes = torch.unique(K)
        quota = {int(c): self.budget // len(classes) for c in classes}
        for c in classes[: self.budget % len(classes)]:
            quota[int(c)] += 1
        keep = []
        for c in classes:  # keep the first-stored (or best-ranked) examples of each class
            keep.append(torch.nonzero(K == c).flatten()[: quota[int(c)]])
        keep = torch.cat(keep).sort().values
        self.x, self.y, self.t = X[keep], Y[keep], T[keep]

    def class_counts(self) -> dict[int, int]:
        if len(self) == 0:
            return {}
        c, n = torch.unique(self._keys(self.y, self.t), return_counts=True)
        return {int(a): int(b) for a, b in zip(c, n)}


def herding(features: torch.Tensor, m: int) -> torch.Tensor:
    """Indices of ``m`` exemplars whose running mean best tracks the class mean (iCaRL herding)."""
    if features.dim() != 2 or len(features) == 0:
        raise ValueError(f"herding expects features (n, d) with n >= 1, got {tuple(features.shape)}")
    f = torch.nn.functional.normalize(features, dim=1)
    mu = f.mean(0)
    chosen: list[int] = []
    total = torch.zeros_like(mu)
    avail = torch.ones(len(f), dtype=torch.bool)
    for k in range(1, min(m, len(f)) + 1):
        dist = ((mu - (total + f) / k) ** 2).sum(1)
        dist[~avail] = float("inf")
        i = int(dist.argmin())
        chosen.append(i)
        avail[i] = False
        total += f[i]
    return torch.tensor(chosen, dtype=torch.long)
