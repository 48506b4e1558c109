"""Self-expanding adapters, after SEMA ("Self-Expansion of Pre-trained Models with Mixture of Adapters
for Continual Learning").

A frozen pretrained encoder ``h = phi(x)`` is refined by a mixture of residual adapters,
``h' = h + sum_a r_a(h) A_a(h)`` with ``r = softmax(R h)`` an expandable router. Each adapter has a
representation descriptor: a PCA autoencoder of the features it was created on, with the mean ``m`` and
standard deviation ``s`` of its reconstruction errors. At a new experience the shift detector computes
the z-score ``(e(X_new) - m) / s`` of the new data's mean reconstruction error under every descriptor;
only when every descriptor flags a shift (``z > z_max``) is a new adapter added (old adapters and
descriptors are frozen), otherwise the existing adapters are reused and only the router and the head
learn. The linear head on ``h'`` is trained with cross-entropy over the *current* experience's units
only: as in the authors' training loop, the logits of classes learned earlier are masked out
(``-inf``) while a later experience trains, so their head rows receive no gradient and are not pushed
down by data that never contains them::

    L = CE( W h'(x) + b restricted to the units of experience t, y )

(without this mask the head forgets old classes in class-IL exactly like fine-tuning does).
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.continual.backbones import pretrained_encoder
from seqlab.continual.strategy import Strategy, masked_logits
from seqlab.registry import Paper, register

SEMA = "Self-Expansion of Pre-trained Models with Mixture of Adapters for Continual Learning"


class Descriptor:
    """PCA autoencoder of a feature distribution; scores novelty by reconstruction-error z-score."""

    def __init__(self, feats: torch.Tensor, rank: int = 16):
        self.mean = feats.mean(0)
        _, _, v = torch.linalg.svd(feats - self.mean, full_matrices=False)
        self.basis = v[:rank]
        err = self.errors(feats)
        self.err_mean, self.err_std = err.mean(), err.std() + 1e-6

    def errors(self, feats: torch.Tensor) -> torch.Tensor:
        c = feats - self.mean
        return ((c - c @ self.basis.T @ self.basis) ** 2).sum(1)

    def zscore(self, feats: torch.Tensor) -> float:
        return float((self.errors(feats).mean() - self.err_mean) / self.err_std)


class AdapterMixture(nn.Module):
    """Frozen encoder + residual adapters mixed by an expandable router + linear head."""

    def __init__(self, encoder, n_outputs: int, bottleneck: int = 32):
        super().__init__()
        self.encoder = encoder
        d = encoder.d_feat
        self.d, self.bottleneck = d, bottleneck
        self.adapters = nn.ModuleList()
        self.router = nn.ParameterList()
        self.head = nn.Linear(d, n_outputs)

    def add_adapter(self) -> None:
        for a in self.adapters:
            a.requires_grad_(False)
        a = nn.Sequential(nn.Linear(self.d, self.bottleneck), nn.ReLU(), nn.Linear(self.bottleneck, self.d))
        nn.init.zeros_(a[2].weight)
        nn.init.zeros_(a[2].bias)
        self.adapters.append(a)
        self.router.append(nn.Parameter(torch.zeros(self.d)))

    def base(self, x):
        return self.encoder.features(x)

    def features(self, x):
        h = self.base(x)
        if not self.adapters:
            return h
        r = torch.softmax(h @ torch.stack(list(self.router)).T, dim=1)
        return h + sum(r[:, i : i + 1] * a(h) for i, a in enumerate(self.adapters))

    def forward(self, x):
        return self.head(self.features(x))


@register(
    "strategy",
    "sema",
    implements=Paper(SEMA, "2403.18886"),
    used_by=[SEMA],
    scenarios=("task", "domain", "class"),
    family="expansion",
)
class SEMAStrategy(Strategy):
    """Mixture of adapters on a frozen encoder, expanded when a representation shift is detected."""

    name = "sema"
    vector_only = True

    def __init__(self, seed: int = 0, z_max: float = 3.0, rank: int = 16, **kw):
        super().__init__(seed, **kw)
        self.z_max, self.rank = z_max, rank
        self.descriptors: list[Descriptor] = []
        self.expanded: list[bool] = []
        self.current: torch.Tensor | None = None  # output units of the experience being learned

    def build_model(self):
        return AdapterMixture(
            pretrained_encoder(self.stream.shape, self.seed, hidden=self.cfg.hidden), self.stream.n_outputs
        )

    @torch.no_grad()
    def shift_detected(self, model, x) -> bool:
        feats = model.base(x)
        return all(d.zscore(feats) > self.z_max for d in self.descriptors)

    def loss(self, model, batch):
        logits = model(batch["inputs"])
        active = batch["active"] & self.current
        return torch.nn.functional.cross_entropy(masked_logits(logits, active), batch["targets"]), logits

    def before_experience(self, model, exp):
        self.current = torch.zeros(self.stream.n_outputs, dtype=torch.bool)
        self.current[list(exp.units)] = True
        grow = self.shift_detected(model, exp.x_train)
        self.expanded.append(grow)
        if grow:
            model.add_adapter()
            with torch.no_grad():
                self.descriptors.append(Descriptor(model.base(exp.x_train), self.rank))

    def state(self):
        out = {"expanded": torch.tensor(self.expanded, dtype=torch.bool)}
        for i, d in enumerate(self.descriptors):
            out.update(
                {
                    f"desc/{i}/mean": d.mean,
                    f"desc/{i}/basis": d.basis,
                    f"desc/{i}/err": torch.stack([d.err_mean, d.err_std]),
                }
            )
        return out

    def load_state(self, model, state):
        self.expanded = [bool(v) for v in state["expanded"]]
        self.descriptors = []
        for i in range(sum(self.expanded)):
            d = Descriptor.__new__(Descriptor)
            d.mean, d.basis = state[f"desc/{i}/mean"], state[f"desc/{i}/basis"]
            d.err_mean, d.err_std = state[f"desc/{i}/err"][0], state[f"desc/{i}/err"][1]
            self.descriptors.append(d)
            model.add_adapter()
