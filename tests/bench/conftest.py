"""Toy components registered only for the duration of a bench test (removed afterwards)."""

from dataclasses import dataclass, field

import pytest
import torch

from seqlab import registry
from seqlab.mixers.base import Mixer
from seqlab.tasks.base import Task


@dataclass
class ToyParity(Task):
    """Running parity of bits; train lengths 1..max_train, test up to 3x (toy stand-in)."""

    max_train: int = 8
    vocab_size: int = field(default=2, init=False)
    n_outputs: int = field(default=2, init=False)

    def __post_init__(self):
        if self.max_train < 2:
            raise ValueError(f"toy: max_train must be >= 2, got {self.max_train}")

    @property
    def train_lengths(self):
        return range(1, self.max_train + 1)

    @property
    def test_lengths(self):
        return range(self.max_train + 1, 3 * self.max_train + 1)

    def generate(self, n, length, generator):
        L = self.pick_length(length, generator)
        x = torch.randint(0, 2, (n, L), generator=generator)
        return {"inputs": x, "targets": x.cumsum(1) % 2, "mask": torch.ones(n, L, dtype=torch.bool)}


class ToyCumMean(Mixer):
    """Causal running mean y_t = W (1/t) sum_{s<=t} x_s; state = (sum, count)."""

    modes = ("parallel", "chunked")
    state_size = "d_model"
    state_growth = "constant"

    def __init__(self, d_model, **kw):
        super().__init__(d_model)
        self.proj = torch.nn.Linear(d_model, d_model)

    def forward(self, x):
        y, _ = self.forward_with_state(x)
        return y

    def init_state(self, batch, device=None, dtype=None):
        return {
            "sum": torch.zeros(batch, self.d_model, device=device, dtype=dtype),
            "n": torch.zeros(batch, 1, device=device, dtype=dtype),
        }

    def forward_with_state(self, x, state=None):
        state = state or self.init_state(x.shape[0], x.device, x.dtype)
        c = state["sum"].unsqueeze(1) + x.cumsum(1)
        n = state["n"].unsqueeze(1) + torch.arange(1, x.shape[1] + 1, device=x.device).view(1, -1, 1)
        return self.proj(c / n.clamp(min=1)), {"sum": c[:, -1], "n": n[:, -1]}


@pytest.fixture
def toy_components():
    registry.register("task", "_toy_parity")(ToyParity)
    registry.register("mixer", "_toy_cummean")(ToyCumMean)
    yield
    registry._REGISTRY["task"].pop("_toy_parity", None)
    registry._REGISTRY["mixer"].pop("_toy_cummean", None)
