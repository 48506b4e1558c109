"""A transformer for supervised online continual learning, after "Transformers for Supervised Online
Continual Learning" (Bornschein et al.): the classifier conditions on recent labelled observations.

Each example is a token ``e(x) + l(y)`` (input embedding plus label embedding); a query is
``e(x) + l(?)``. A transformer reads ``C`` context tokens (the most recent observations and samples
from a replay buffer) followed by ``Q`` queries; queries attend to the context and to themselves only::

    p(y_q | x_q, {(x_c, y_c)}_c) = softmax(W . Transformer([ctx ; queries])_q)

Training mixes the current batch (queries) with context from the previous batch and the reservoir
buffer, so in-context (fast) and in-weight (slow) learning both keep old classes alive.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.continual.buffers import ReservoirBuffer
from seqlab.continual.strategy import Strategy, masked_logits
from seqlab.registry import Paper, register

TOCL = "Transformers for Supervised Online Continual Learning"


class InContextClassifier(nn.Module):
    """Embeds (x, y) context tokens and x queries; a small transformer predicts each query's label."""

    def __init__(self, d_in: int, n_outputs: int, d_model: int = 64, n_layers: int = 2, n_heads: int = 4):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(d_in, 256), nn.ReLU(), nn.Linear(256, d_model))
        self.label = nn.Embedding(n_outputs + 1, d_model)  # last row: "unknown" for queries
        layer = nn.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, dropout=0.0, batch_first=True)
        self.body = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, n_outputs)
        self.n_outputs = n_outputs
        self.context: tuple[torch.Tensor, torch.Tensor] | None = None  # used by forward when set

    def features(self, x):
        return self.embed(x)

    def classify(self, xq, xc, yc):
        """Logits of queries ``xq`` given context examples ``(xc, yc)`` (all in one sequence)."""
        q = self.embed(xq) + self.label(torch.full((len(xq),), self.n_outputs, dtype=torch.long))
        c = self.embed(xc) + self.label(yc) if len(yc) else q[:0]
        seq = torch.cat([c, q]).unsqueeze(0)
        C, L = len(c), len(c) + len(q)
        mask = torch.ones(L, L, dtype=torch.bool)  # True = blocked
        mask[:, :C] = False
        idx = torch.arange(C, L)
        mask[idx, idx] = False
        out = self.body(seq, mask=mask)[0, C:]
        return self.head(out)

    def forward(self, x):
        xc, yc = self.context if self.context is not None else (x[:0], torch.zeros(0, dtype=torch.long))
        return self.classify(x, xc, yc)


@register(
    "strategy",
    "online_transformer",
    implements=Paper(TOCL, "2403.01554"),
    used_by=[TOCL],
    scenarios=("task", "domain", "class"),
    family="replay+in-context",
)
class OnlineTransformer(Strategy):
    """In-context transformer conditioned on recent observations + a reservoir replay buffer."""

    name = "online_transformer"
    vector_only = True

    def __init__(self, seed: int = 0, budget: int = 200, n_context: int = 64, **kw):
        super().__init__(seed, **kw)
        self.budget, self.n_context = budget, n_context
        self.buffer = ReservoirBuffer(budget, seed)
        self.recent = None

    def build_model(self):
        return InContextClassifier(self.stream.input_dim, self.stream.n_outputs)

    def _context(self, n_replay: int):
        xs, ys = [], []
        if self.recent is not None:
            xs.append(self.recent[0])
            ys.append(self.recent[1])
        if len(self.buffer) and n_replay:
            x, y, _ = self.buffer.sample(n_replay)
            xs.append(x)
            ys.append(y)
        if not xs:
            return None
        return torch.cat(xs)[-self.n_context :], torch.cat(ys)[-self.n_context :]

    def loss(self, model, batch):
        x, y = batch["inputs"], batch["targets"]
        xr, yr, tr = self.buffer.sample(len(y)) if len(self.buffer) else (x[:0], y[:0], y[:0])
        xq, yq = torch.cat([x, xr]), torch.cat([y, yr])
        active = torch.cat([batch["active"], self.stream.active(tr, self.n_seen)])
        ctx = self._context(self.n_context // 2)
        xc, yc = ctx if ctx is not None else (x[:0], y[:0])
        logits = model.classify(xq, xc, yc)
        loss = F.cross_entropy(masked_logits(logits, active), yq)
        self.recent = (x.detach(), y.detach())
        if self.stream.online:
            self.buffer.add(x, y, batch["task_id"])
        return loss, logits[: len(y)]

    def after_experience(self, model, exp):
        if not self.stream.online:
            order = torch.randperm(len(exp.y_train), generator=self.buffer.gen)
            self.buffer.add(exp.x_train[order], exp.y_train[order], exp.t_train[order])

    @torch.no_grad()
    def predict(self, model, x, task_ids):
        ctx = self._context(self.n_context)
        if ctx is None:
            return model.classify(x, x[:0], torch.zeros(0, dtype=torch.long))
        g_state = self.buffer.gen.get_state()  # evaluation must not move the training RNG
        out = torch.cat([model.classify(x[s : s + 256], *ctx) for s in range(0, len(x), 256)])
        self.buffer.gen.set_state(g_state)
        return out

    def state(self):
        out = {f"buffer/{k}": v for k, v in self.buffer.state().items()}
        if self.recent is not None:
            out.update({"recent/x": self.recent[0], "recent/y": self.recent[1]})
        return out

    def load_state(self, model, state):
        self.buffer.load({k[7:]: v for k, v in state.items() if k.startswith("buffer/")})
        if "recent/x" in state:
            self.recent = (state["recent/x"], state["recent/y"])
