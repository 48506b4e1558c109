"""Paper claims: a small grid plus a pass criterion, both fixed here before anything runs.

A claim's status is computed from the results store, never typed in: "not run" until every run
of its grid is stored, then "passed" or "failed" with the measured figure. Runs share the
results store (and, where the configs coincide, the rows) with ``seqlab bench``. A claim that
does not reproduce stays failed; its criterion is never loosened to make it pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seqlab.experiments.config import RunConfig

# Same optimisation settings as the default suite, so shared configurations share store rows.
BASE = dict(batch_size=32, n_layers=2, lr=3e-3, warmup=20, eval_every=50, eval_n=128, target=0.99)


def _run(task: str, mixer: str, task_params: dict, **kw) -> RunConfig:
    return RunConfig(task=task, mixer=mixer, task_params=task_params, **{**BASE, **kw})


Rows = dict[str, dict]  # config key -> stored row


@dataclass(frozen=True)
class Claim:
    name: str
    title: str  # exact catalog title
    statement: str  # what the paper says, at our scale
    criterion: str  # the pass rule, in words (shown in the table)
    runs: tuple[RunConfig, ...]
    check: Callable[[Rows], tuple[bool, str]]  # -> (passed, measured figure)

    def keys(self) -> list[str]:
        return [r.key() for r in self.runs]

    def status(self, store) -> tuple[str, str]:
        """("passed" | "failed" | "not run", figure) from the rows in ``store``."""
        rows = {k: store.get(k) for k in self.keys()}
        missing = [k for k, v in rows.items() if v is None]
        if missing:
            return "not run", f"{len(self.runs) - len(missing)}/{len(self.runs)} runs stored"
        ok, figure = self.check(rows)
        return ("passed" if ok else "failed"), figure


def _score(rows: Rows, cfg: RunConfig, field: str = "score") -> float:
    return rows[cfg.key()]["result"][field]


# -- RNNs are not Transformers (Yet) -----------------------------------------------------------
_MQAR = {"vocab_size": 32, "seq_len": 32, "n_pairs": 8}
_RETRIEVAL = (
    _run("mqar", "attention", _MQAR, d_model=32, steps=400),
    _run("mqar", "lstm", _MQAR, d_model=32, steps=400),
    _run("mqar", "s4d", _MQAR, d_model=32, steps=400),
)


def _retrieval(rows):
    att = _score(rows, _RETRIEVAL[0])
    rnn = max(_score(rows, c) for c in _RETRIEVAL[1:])
    return att - rnn >= 0.2, f"attention {att:.3f} vs best recurrent {rnn:.3f} (gap {att - rnn:+.3f})"


# -- Streaming parity ----------------------------------------------------------------------------
_PARITY = {"max_train_length": 16, "max_test_length": 160}
_SP = (_run("streaming_parity", "lstm", _PARITY, d_model=32, steps=400, target=None),)


def _parity(rows):
    ood = _score(rows, _SP[0], "ood_score")
    return ood >= 0.95, f"LSTM accuracy on lengths 17..160 (trained 1..16): {ood:.3f}"


# -- Randomized positional encodings ---------------------------------------------------------------
_CHOMSKY = {"max_train_length": 40, "max_test_length": 100}
_RPE_TASKS = ("even_pairs", "cycle_navigation", "modular_arithmetic")
_RPE = tuple(
    _run(t, "attention", _CHOMSKY, d_model=32, steps=1000, target=None, randomized_positions=rp)
    for t in _RPE_TASKS
    for rp in (None, 256)
)


def _rpe(rows):
    gains = [
        _score(rows, _RPE[2 * i + 1], "ood_score") - _score(rows, _RPE[2 * i], "ood_score")
        for i in range(len(_RPE_TASKS))
    ]
    mean = sum(gains) / len(gains)
    per = ", ".join(f"{t} {100 * g:+.1f}" for t, g in zip(_RPE_TASKS, gains))
    return mean > 0, f"mean unseen-length gain {100 * mean:+.1f} points ({per}); paper: +12.0 over 15 tasks"


# -- Length generalization of recurrent models ------------------------------------------------------
_SI = tuple(
    _run("streaming_parity", "lru", _PARITY, d_model=32, steps=400, target=None, state_init=s)
    for s in ("zero", "noise", "foreign")
)


def _state_init(rows):
    zero, noise, foreign = (_score(rows, c, "ood_score") for c in _SI)
    best = max(noise, foreign)
    return (
        best - zero >= 0.05,
        f"LRU unseen-length accuracy: zero {zero:.3f}, noise {noise:.3f}, foreign {foreign:.3f}",
    )


# -- Memory-based meta-learning -----------------------------------------------------------------------
_NS = (
    _run(
        "nonstationary", "lstm", {"n_symbols": 2, "seq_len": 128, "switch_prob": 0.02}, d_model=32, steps=300
    ),
)


def _meta(rows):
    res = rows[_NS[0].key()]["result"]
    gap = res["score"] - res["id"]["optimal_log_loss"]
    return (
        gap <= 0.05,
        f"LSTM log loss {res['score']:.4f} vs Bayes-optimal {res['id']['optimal_log_loss']:.4f} nats "
        f"(gap {gap:.4f})",
    )


# -- HiPPO-Prophecy -------------------------------------------------------------------------------------
_DYN = (_run("dynamics", "s4d", {"system": "linear", "state_dim": 4, "seq_len": 64}, d_model=32, steps=300),)


def _prophecy(rows):
    res = rows[_DYN[0].key()]["result"]
    base = res["id"]["copy_last_mse"]
    ratio = res["score"] / base
    return (
        ratio <= 0.8,
        f"S4D next-state MSE {res['score']:.4f} = {ratio:.2f} x copy-last baseline {base:.4f}",
    )


# -- Pointer Networks ---------------------------------------------------------------------------------
_PTR = (
    _run(
        "sorting",
        "none",
        {"min_length": 2, "max_train_length": 10, "max_test_length": 15},
        model="pointer_network",
        d_model=64,
        steps=400,
        n_layers=1,
        target=None,
    ),
)


def _pointer(rows):
    res = rows[_PTR[0].key()]["result"]
    return res["ood_score"] >= 0.5, (
        f"pointer accuracy: lengths 2..10 {res['score']:.3f}, longer 11..15 {res['ood_score']:.3f}"
    )


CLAIMS: dict[str, Claim] = {
    c.name: c
    for c in (
        Claim(
            "rnns_not_transformers",
            "RNNs are not Transformers (Yet): The Key Bottleneck on In-context Retrieval",
            "in-context retrieval separates attention from fixed-state recurrences",
            "MQAR (V32, L32, 8 pairs, d32, 400 steps): attention acc - best of LSTM/S4D acc >= 0.20",
            _RETRIEVAL,
            _retrieval,
        ),
        Claim(
            "streaming_parity",
            "Algorithm Development in Neural Networks: Insights from the Streaming Parity Task",
            "an RNN trained on short streams learns the parity automaton and generalizes to any length",
            "LSTM d32 trained on lengths 1..16: mean accuracy on 17..160 >= 0.95",
            _SP,
            _parity,
        ),
        Claim(
            "randomized_pe",
            "Randomized Positional Encodings Boost Length Generalization of Transformers",
            "randomized positions raise a transformer's accuracy on unseen lengths",
            "attention d32, RoPE positions, even_pairs/cycle_navigation/modular_arithmetic, train 1..40, "
            "test 41..100: mean gain of randomized (M=256) over standard > 0 points",
            _RPE,
            _rpe,
        ),
        Claim(
            "recurrent_length_generalization",
            "Understanding and Improving Length Generalization in Recurrent Models",
            "initial-state interventions (noise / another sequence's final state) help length generalization",
            "LRU d32 streaming parity (train 1..16, test 17..160): best of noise/foreign init beats "
            "zero init by >= 0.05 accuracy",
            _SI,
            _state_init,
        ),
        Claim(
            "nonstationary_meta_learning",
            "Memory-Based Meta-Learning on Non-Stationary Distributions",
            "a meta-trained memory model nears the Bayes-optimal predictor on piecewise-stationary sources",
            "LSTM d32 on binary switching sources (L128, switch 0.02): log loss - Bayes-optimal <= 0.05 nats",
            _NS,
            _meta,
        ),
        Claim(
            "hippo_prophecy",
            "HiPPO-Prophecy: State-Space Models can Provably Learn Dynamical Systems in Context",
            "an SSM predicts the next state of an unseen linear system from its trajectory",
            "S4D d32, random stable 4-d linear systems, L64: next-state MSE <= 0.8 x copy-last baseline",
            _DYN,
            _prophecy,
        ),
        Claim(
            "pointer_networks",
            "Pointer Networks",
            "a pointer network sorts and generalizes to sets longer than trained on",
            "pointer network d64 trained on 2..10 numbers: per-position accuracy on 11..15 numbers >= 0.5",
            _PTR,
            _pointer,
        ),
    )
}


def claim(name: str) -> Claim:
    if name not in CLAIMS:
        raise KeyError(f"unknown claim {name!r}; valid names: {', '.join(CLAIMS)}")
    return CLAIMS[name]


def claims_by_title() -> dict[str, Claim]:
    return {c.title: c for c in CLAIMS.values()}


def claims_table(store) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of every claim with its criterion, status and figure from ``store``."""
    head = ["claim", "paper", "criterion (fixed before running)", "status", "measured"]
    body = []
    for c in CLAIMS.values():
        status, fig = c.status(store) if store is not None else ("not run", "no store")
        body.append([c.name, c.title, c.criterion, status, fig])
    return head, body
