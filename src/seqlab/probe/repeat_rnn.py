"""The repeat task on a small GRU, and its onion vs linear probes (arXiv 2408.10920).

"Recurrent Neural Networks Learn to Store and Generate Sequences using Non-Linear Representations"
(Csordas et al., arXiv 2408.10920). The task is :class:`seqlab.tasks.repeat.Repeat`: ``P`` symbols,
the delimiter, then the symbols again, autoregressively. The state after the delimiter holds the
whole sequence; the output phase starts from that state and feeds back its own predictions, so
editing the state is an intervention on what the network will say.

:class:`RepeatGRU`: embedding -> seqlab's ``gru`` mixer (one ``torch.nn.GRU`` layer of ``hidden``
units and the mixer's output map) -> linear head. :func:`delimiter_states` runs the input phase and
returns the state; :func:`generate_from` decodes greedily from any state.

Experiment ``probe.rnn_repeat``: train, then on fresh sequences fit the onion model
(:mod:`seqlab.probe.onion`) and a ridge linear probe per position on training-sequence states, and
measure both on held-out states; plus the onion intervention's success (the network then outputs the
new token at the edited position and the old tokens elsewhere).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.experiments.cell import experiment
from seqlab.probe.onion import decode_onion, linear_probe_accuracy, onion_intervention, train_onion
from seqlab.registry import create
from seqlab.tasks.repeat import Repeat


class RepeatGRU(nn.Module):
    """Embedding -> one GRU layer (seqlab's ``gru`` mixer) -> linear head over ``n_outputs`` classes."""

    def __init__(self, vocab_size: int, n_outputs: int, d_embed: int = 16, hidden: int = 32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.gru = create("mixer", "gru", d_model=d_embed, d_hidden=hidden)
        self.head = nn.Linear(d_embed, n_outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(self.embed(ids)))

    def run(self, ids: torch.Tensor, state=None):
        """Logits and the final state ``(B, hidden)`` of ``ids`` started from ``state`` (zeros by default)."""
        if state is not None:
            state = state[:, None]
        y, h = self.gru.forward_with_state(self.embed(ids), state)
        return self.head(y), h[:, 0]


def delimiter_states(model: RepeatGRU, inputs: torch.Tensor, length: int) -> torch.Tensor:
    """The GRU state after the delimiter, ``(B, hidden)``: it holds the whole sequence."""
    return model.run(inputs[:, : length + 1])[1]


def generate_from(model: RepeatGRU, state: torch.Tensor, first_logits: torch.Tensor, length: int):
    """Greedy decoding of ``length`` symbols from ``state``, whose output at the delimiter was
    ``first_logits (B, n_outputs)``; each prediction is fed back as the next input. ``(B, length)``."""
    out = [first_logits.argmax(-1)]
    for _ in range(length - 1):
        logits, state = model.run(out[-1][:, None], state)
        out.append(logits[:, -1].argmax(-1))
    return torch.stack(out, 1)


def train_repeat(task: Repeat, model: RepeatGRU, steps: int, batch: int, lr: float, seed: int) -> None:
    """Adam on the masked cross-entropy of the output phase, fresh batches from the training seed range."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    for step in range(steps):
        b = task.sample(batch, seed=seed * 100_003 + step)
        logits = model(b["inputs"])
        loss = F.cross_entropy(logits[b["mask"]], b["targets"][b["mask"]])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()


@experiment("probe.rnn_repeat")
def rnn_repeat(params: dict, seed: int) -> dict:
    """Train a GRU on the repeat task; onion vs linear probes of the delimiter state; interventions.

    params: ``symbols``, ``length``, ``hidden``, ``d_embed``, ``steps``, ``batch``, ``lr``,
    ``n_fit`` (probe-training sequences), ``n_test``.
    """
    torch.manual_seed(seed)
    K, P = int(params.get("symbols", 10)), int(params.get("length", 6))
    task = Repeat(n_symbols=K, length=P)
    model = RepeatGRU(task.vocab_size, task.n_outputs, int(params.get("d_embed", 16)), int(params["hidden"]))
    train_repeat(
        task, model, int(params["steps"]), int(params.get("batch", 64)), float(params.get("lr", 3e-3)), seed
    )
    model.eval()
    n_fit, n_test = int(params.get("n_fit", 2000)), int(params.get("n_test", 1000))
    with torch.no_grad():
        fit = task.sample(n_fit, seed=seed * 7 + 1, split="test")
        test = task.sample(n_test, seed=seed * 7 + 2, split="test")
        pred = model(test["inputs"]).argmax(-1)
        task_acc = float((pred[test["mask"]] == test["targets"][test["mask"]]).double().mean())
        h_fit = delimiter_states(model, fit["inputs"], P).double()
        h_test = delimiter_states(model, test["inputs"], P).double()
    x_fit, x_test = fit["inputs"][:, :P], test["inputs"][:, :P]
    linear = linear_probe_accuracy(h_fit, x_fit, h_test, x_test)
    onion = train_onion(h_fit, x_fit, K, steps=int(params.get("probe_steps", 300)), seed=seed)
    decoded = decode_onion(onion, h_test)
    onion_acc = (decoded == x_test).double().mean(0).tolist()
    # interventions: one position per sequence, a different symbol; success = the model says the new
    # symbol there and the old symbols everywhere else
    g = torch.Generator().manual_seed(seed + 17)
    pos = torch.randint(0, P, (n_test,), generator=g)
    new = (x_test[torch.arange(n_test), pos] + torch.randint(1, K, (n_test,), generator=g)) % K
    want = x_test.clone()
    want[torch.arange(n_test), pos] = new
    succ_onion, succ_pos = [], []
    with torch.no_grad():
        for p in range(P):
            rows = torch.nonzero(pos == p).flatten()
            if len(rows) == 0:
                continue
            h2 = onion_intervention(onion, h_test[rows], x_test[rows], p, new[rows]).float()
            out = generate_from(model, h2, model.head(model.gru.out(h2)), P)
            ok = (out == want[rows]).all(1).double()
            succ_onion.append(ok)
            succ_pos.append(float(ok.mean()))
        h = h_test.float()
        unedited = generate_from(model, h, model.head(model.gru.out(h)), P)
    lin_mean = sum(linear) / P
    onion_mean = sum(onion_acc) / P
    return {
        "gap": onion_mean - lin_mean,
        "onion_accuracy": onion_mean,
        "linear_accuracy": lin_mean,
        "onion_per_position": onion_acc,
        "linear_per_position": linear,
        "gamma": onion.gamma.tolist(),
        "task_accuracy": task_acc,
        "intervention_success": float(torch.cat(succ_onion).mean()),
        "intervention_per_position": succ_pos,
        "no_intervention_success": float((unedited == want).all(1).double().mean()),
        "chance": 1.0 / K,
    }
