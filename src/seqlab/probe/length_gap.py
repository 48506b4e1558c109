"""Length independence of a selective SSM's generalization gap.

Paper: Honarpisheh, Bozdag, Sznaier, Camps, "Generalization Error Analysis for Selective State-Space
Models Through the Lens of Attention" (arXiv 2502.01473). Written as attention, a selective SSM's
output is ``y_t = sum_{s <= t} C_t (prod_{s < r <= t} exp(Delta_r A)) B_s x_s``; with a stable state
matrix (``Re A < 0``) the products decay geometrically, and the covering-number bound on the
generalization gap does not grow with the sequence length ``T``. Models whose capacity grows with
``T`` (a readout with one weight per position) get bounds, and gaps, that do.

Experiment ``probe.length_gap`` (seqlab's version): the *majority* task -- ``T`` (odd) bits, label 1
when ones are the majority -- with a fixed training set of ``n_train`` sequences per length; for each
``T`` in ``lengths`` a 1-layer Mamba classifier (seqlab's ``mamba`` mixer: ``A = -exp(A_log)``, stable
by construction; the label read at the last position) is trained full-batch, and the gap is the
training accuracy minus the accuracy on ``n_test`` fresh sequences. The same data train two
reference models: a per-position linear readout (logistic regression on the flattened one-hot
sequence: ``2T`` weights) and a 1-layer attention model with learned absolute positions.
:func:`gap_slope` is the least-squares slope of the gap against ``log2 T`` (gap points per doubling).

Unstable arm (param ``unstable_a_min``, off by default): a fourth model, the same Mamba classifier whose
mixer is :class:`~seqlab.probe.selective_bound.UnstableMamba` (state matrix clamped to real parts
``>= unstable_a_min > 0``, per-step exponent capped at ``unstable_step_cap``); with it the result also
holds, per length, the bound's transition mass and spectral abscissa
(:func:`~seqlab.probe.selective_bound.selective_ssm_bound_terms` on ``bound_n`` test sequences) of the
stable and the unstable model.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.experiments.cell import experiment
from seqlab.models import SequenceModel


def majority_batch(n: int, length: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` bit sequences of odd ``length`` and their majority labels."""
    if length < 1 or length % 2 == 0:
        raise ValueError(f"majority needs an odd length (no ties), got {length}")
    ids = torch.randint(0, 2, (n, length), generator=gen)
    return ids, (2 * ids.sum(1) > length).long()


def gap_slope(lengths, gaps) -> float:
    """Least-squares slope of ``gaps`` against ``log2(lengths)``: the change of the gap per doubling."""
    lengths, gaps = list(lengths), list(gaps)
    if len(lengths) != len(gaps) or len(lengths) < 2:
        raise ValueError(f"gap_slope needs >= 2 (length, gap) pairs, got {len(lengths)} and {len(gaps)}")
    if any(t <= 0 for t in lengths):
        raise ValueError(f"lengths must be positive, got {lengths}")
    x = [math.log2(t) for t in lengths]
    mx, my = sum(x) / len(x), sum(gaps) / len(gaps)
    sxx = sum((a - mx) ** 2 for a in x)
    if sxx == 0:
        raise ValueError("gap_slope needs at least two distinct lengths")
    return sum((a - mx) * (b - my) for a, b in zip(x, gaps, strict=True)) / sxx


class FlatReadout(nn.Module):
    """Logistic regression on the flattened one-hot sequence: one weight per (position, symbol)."""

    def __init__(self, length: int, vocab: int, n_outputs: int = 2):
        super().__init__()
        self.vocab = vocab
        self.lin = nn.Linear(length * vocab, n_outputs)

    def forward(self, ids):
        return self.lin(F.one_hot(ids, self.vocab).float().flatten(1))


def _mamba_classifier(d: int, d_state: int) -> SequenceModel:
    """The 1-layer Mamba classifier of the experiment (label read at the last position)."""
    return SequenceModel(
        "mamba",
        d_model=d,
        n_layers=1,
        vocab_size=2,
        n_outputs=2,
        mlp_ratio=2.0,
        mixer_cfg={"d_state": d_state},
    )


def _fit(model, last: bool, x, y, steps: int, lr: float):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        out = model(x)
        loss = F.cross_entropy(out[:, -1] if last else out, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


def _accuracy(model, last: bool, x, y) -> float:
    with torch.no_grad():
        out = model(x)
        return float(((out[:, -1] if last else out).argmax(-1) == y).double().mean())


@experiment("probe.length_gap")
def length_gap(params: dict, seed: int) -> dict:
    """Gap (train - test accuracy) of Mamba, a per-position readout and attention + learned positions.

    params: ``lengths`` (odd), ``n_train``, ``n_test``, ``d_model``, ``d_state``, ``steps``, ``lr``;
    optional ``unstable_a_min`` (adds the ``mamba_unstable`` arm), ``unstable_step_cap`` (1.0),
    ``bound_n`` (32).
    """
    from seqlab.probe.selective_bound import UnstableMamba, selective_ssm_bound_terms

    a_min = params.get("unstable_a_min")
    names = ("mamba", "flat", "attention_ape") + (("mamba_unstable",) if a_min is not None else ())
    lengths = [int(t) for t in params["lengths"]]
    n_train, n_test = int(params.get("n_train", 256)), int(params.get("n_test", 2000))
    d, steps, lr = int(params.get("d_model", 16)), int(params["steps"]), float(params.get("lr", 3e-3))
    out = {"lengths": lengths}
    for name in names:
        out[f"{name}_train"], out[f"{name}_test"], out[f"{name}_gap"] = [], [], []
    if a_min is not None:
        for name in ("mamba", "mamba_unstable"):
            out[f"{name}_abscissa"], out[f"{name}_mass"] = [], []
    for T in lengths:
        gen = torch.Generator().manual_seed(seed * 1009 + T)
        xtr, ytr = majority_batch(n_train, T, gen)
        xte, yte = majority_batch(n_test, T, gen)
        torch.manual_seed(seed * 1009 + T)
        models = {
            "mamba": (_mamba_classifier(d, int(params.get("d_state", 8))), True),
            "flat": (FlatReadout(T, 2), False),
            "attention_ape": (
                SequenceModel(
                    "attention",
                    d_model=d,
                    n_layers=1,
                    vocab_size=2,
                    n_outputs=2,
                    mlp_ratio=2.0,
                    pos_enc="learned",
                    max_len=max(lengths),
                    mixer_cfg={"n_heads": 2},
                ),
                True,
            ),
        }
        if a_min is not None:
            unstable = _mamba_classifier(d, 1)  # its mixer is replaced just below
            unstable.blocks[0].mixer = UnstableMamba(
                d,
                d_state=int(params.get("d_state", 8)),
                a_min=float(a_min),
                step_cap=float(params.get("unstable_step_cap", 1.0)),
            )
            models["mamba_unstable"] = (unstable, True)
        for name, (model, last) in models.items():
            _fit(model, last, xtr, ytr, steps, lr if name != "flat" else 10 * lr)
            model.eval()
            a_tr, a_te = _accuracy(model, last, xtr, ytr), _accuracy(model, last, xte, yte)
            out[f"{name}_train"].append(a_tr)
            out[f"{name}_test"].append(a_te)
            out[f"{name}_gap"].append(a_tr - a_te)
            if a_min is not None and name in ("mamba", "mamba_unstable"):
                terms = selective_ssm_bound_terms(model, xte[: int(params.get("bound_n", 32))])
                out[f"{name}_abscissa"].append(terms["abscissa"])
                out[f"{name}_mass"].append(terms["mass_at_end"])
    for name in names:
        out[f"{name}_slope"] = gap_slope(lengths, out[f"{name}_gap"])
    out["min_mamba_train"] = min(out["mamba_train"])
    if a_min is not None:
        out["unstable_minus_stable_slope"] = out["mamba_unstable_slope"] - out["mamba_slope"]
        out["unstable_first_train"] = out["mamba_unstable_train"][0]
    return out
