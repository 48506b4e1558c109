"""Published regularization strengths, per protocol and scenario.

Values chosen by grid search in "Three scenarios for continual learning" (van de Ven & Tolias,
arXiv 1904.07734, appendix hyper-parameter table; 2x400 MLP, Adam 1e-3, batch 128). They differ by
orders of magnitude between scenarios because the Fisher / path-integral importances have very
different scales when the output layer is shared (domain-IL, class-IL) or per task (task-IL).

===========  ===========  =========  ===========================  ========
protocol     scenario     EWC lam    online EWC lam (gamma)       SI c
===========  ===========  =========  ===========================  ========
split        task         1e7        1e8 (0.8)                    50
split        domain       1e6        1e8 (0.7)                    500
split        class        1e8        1e9 (0.8)                    0.5
permuted     task         500        500 (0.8)                    5
permuted     domain       500        1000 (0.9)                   5
permuted     class        1          5 (1.0)                      0.1
===========  ===========  =========  ===========================  ========

LwF uses temperature 2. Other streams (rotated, blurry, ...) fall back to the split values.
"""

from __future__ import annotations

PUBLISHED: dict[tuple[str, str], dict[str, float]] = {
    ("split", "task"): {"ewc_lambda": 1e7, "online_lambda": 1e8, "gamma": 0.8, "si_c": 50.0},
    ("split", "domain"): {"ewc_lambda": 1e6, "online_lambda": 1e8, "gamma": 0.7, "si_c": 500.0},
    ("split", "class"): {"ewc_lambda": 1e8, "online_lambda": 1e9, "gamma": 0.8, "si_c": 0.5},
    ("permuted", "task"): {"ewc_lambda": 500.0, "online_lambda": 500.0, "gamma": 0.8, "si_c": 5.0},
    ("permuted", "domain"): {"ewc_lambda": 500.0, "online_lambda": 1000.0, "gamma": 0.9, "si_c": 5.0},
    ("permuted", "class"): {"ewc_lambda": 1.0, "online_lambda": 5.0, "gamma": 1.0, "si_c": 0.1},
}


def published(stream_name: str, scenario: str, key: str) -> float:
    """The published value of ``key`` for a stream (protocol taken from the name's prefix)."""
    protocol = "permuted" if "permuted" in stream_name else "split"
    return PUBLISHED[(protocol, scenario)][key]
