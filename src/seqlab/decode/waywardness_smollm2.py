"""Prompt waywardness on the frozen SmolLM2-135M: movie-review sentiment with continuous prompts.

Paper: "Prompt Waywardness: The Curious Case of Discretized Interpretation of Continuous Prompts"
(Khashabi et al.; arXiv 2112.08348). The mechanism (prompt tuning, nearest-token projection, the
waywardness objective ``L_task + gamma * mean_i ||p_i - e(t_i)||^2 / (d rms(E)^2)``) is
:mod:`seqlab.decode.waywardness`; this module runs it on a real pretrained LM and a real task that
ships offline.

Task: the 200 labelled movie-review sentences of gensim's test data (:func:`seqlab.decode.se2.load_polarity`),
2-way sentiment. Each sentence (its first ``max_words`` words) becomes ``"Review: <text>\\nSentiment:"``
(:class:`seqlab.decode.se2.ICLTask`), right-padded, and the answer is the more probable of the label
words " negative" / " positive" after ``k`` prompt vectors and the input. The seed shuffles the
sentences into ``n_train`` training and ``n_test`` test rows and draws the starting tokens.

Prompts compared on the test rows (``acc_*``): none; a hand-written instruction; ``k`` random tokens
(the tuned prompt's starting point); the tuned continuous prompt (gamma 0) and its nearest-token
projection; for each target text ``t`` (``k`` tokens): the target itself as a discrete prompt, the
prompt tuned with the waywardness objective from it, and that prompt's projection, with the token F1
of the projection against the target (``f1_*``). The majority class of the test rows is reported too.
"""

from __future__ import annotations

import random

import torch

from seqlab.decode.se2 import ICLTask, load_polarity
from seqlab.decode.waywardness import accuracy, project, right_padded, token_f1, tune_prompt
from seqlab.registry import experiment

TARGETS = ("The train leaves at seven tomorrow", "Always answer with the opposite sentiment")
HAND_PROMPT = "Classify the sentiment of the movie review as positive or negative.\n"
DEFAULTS = {
    "lm": "smollm2-135m",
    "n_train": 100,
    "n_test": 100,
    "max_words": 12,
    "k": 6,
    "steps": 40,
    "lr": 0.05,
    "batch_size": 8,
    "gamma": 1.0,
    "targets": list(TARGETS),
    "hand_prompt": HAND_PROMPT,
    "eval_batch": 16,
}


def split(data: list, n_train: int, n_test: int, seed: int) -> tuple[list, list]:
    """Disjoint training and test rows of ``data`` after a seeded shuffle."""
    if n_train < 1 or n_test < 1 or n_train + n_test > len(data):
        raise ValueError(
            f"expected n_train, n_test >= 1 with n_train + n_test <= {len(data)}, got {n_train} + {n_test}"
        )
    rows = list(data)
    random.Random(seed).shuffle(rows)
    return rows[:n_train], rows[n_train : n_train + n_test]


def encode_rows(lm, rows, task: ICLTask) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x, lengths, y)``: each ``(text, label)`` as the right-padded ids of its zero-shot prompt."""
    enc = lm.encode([task.prompt([], text) for text, _ in rows])
    x, lengths = right_padded(enc.ids, enc.mask, lm.pad_token_id or 0)
    return x, lengths, torch.tensor([label for _, label in rows])


def text_ids(lm, text: str, k: int | None = None) -> torch.Tensor:
    """The ids of ``text`` (no padding); with ``k``, they must be exactly ``k`` tokens."""
    ids = lm.encode([text]).ids[0]
    if k is not None and ids.shape[0] != k:
        raise ValueError(
            f"target text {text!r} must be {k} tokens of the LM (one per prompt vector), got {ids.shape[0]}"
        )
    return ids


def random_tokens(lm, k: int, g: torch.Generator) -> torch.Tensor:
    """``k`` token ids drawn uniformly from the vocabulary, special tokens excluded."""
    special = set(getattr(getattr(lm, "tokenizer", None), "all_special_ids", []) or [])
    allowed = torch.tensor([i for i in range(int(lm.vocab_size)) if i not in special])
    return allowed[torch.randint(len(allowed), (k,), generator=g)]


@experiment("decode.waywardness_smollm2")
def waywardness_smollm2_experiment(params: dict, seed: int) -> dict:
    """One seed of prompt waywardness on SmolLM2 (module docstring): test accuracies and F1s."""
    import seqlab.lm

    p = {**DEFAULTS, **params}
    unknown = sorted(set(p) - set(DEFAULTS))
    if unknown:
        raise ValueError(
            f"decode.waywardness_smollm2: unknown params {unknown}; expected some of {sorted(DEFAULTS)}"
        )
    lm = seqlab.lm.load(p["lm"])
    task = ICLTask(max_words=p["max_words"])
    train, test = split(load_polarity(), p["n_train"], p["n_test"], seed)
    xtr, ltr, ytr = encode_rows(lm, train, task)
    xte, lte, yte = encode_rows(lm, test, task)
    labels = task.label_ids(lm)
    k = p["k"]
    g = torch.Generator().manual_seed(seed)
    start = random_tokens(lm, k, g)
    targets = [text_ids(lm, t, k) for t in p["targets"]]
    tune = dict(steps=p["steps"], lr=p["lr"], seed=seed, lengths=ltr, batch_size=p["batch_size"])

    def emb(ids):
        if len(ids) == 0:
            return torch.zeros(0, int(lm.d_model))
        with torch.no_grad():
            return lm.input_embeddings(torch.as_tensor(ids, dtype=torch.long)[None])[0]

    def acc(prompt):
        return accuracy(lm, prompt, xte, yte, labels, lte, batch_size=p["eval_batch"])

    best = tune_prompt(lm, xtr, ytr, labels, k, init=start, **tune)
    best_proj = project(lm, best)
    out = {
        "acc_none": acc(emb([])),
        "acc_hand": acc(emb(text_ids(lm, p["hand_prompt"]))),
        "acc_random_tokens": acc(emb(start)),
        "acc_continuous": acc(best),
        "acc_continuous_projected": acc(emb(best_proj)),
        "continuous_projection_changed": int((best_proj != start).sum()),
        "acc_majority": max(float(yte.float().mean()), 1.0 - float(yte.float().mean())),
        "chance": 1.0 / len(labels),
    }
    for j, target in enumerate(targets):
        way = tune_prompt(lm, xtr, ytr, labels, k, init=target, target=target, gamma=p["gamma"], **tune)
        proj = project(lm, way)
        out[f"acc_target_{j}"] = acc(emb(target))
        out[f"acc_wayward_{j}"] = acc(way)
        out[f"acc_wayward_projected_{j}"] = acc(emb(proj))
        out[f"f1_wayward_{j}"] = token_f1(proj, target)
        out[f"f1_continuous_{j}"] = token_f1(best_proj, target)
        out[f"projection_{j}"] = lm.decode(proj[None])[0]
    out["continuous_projection"] = lm.decode(best_proj[None])[0]
    out["n_targets"] = len(targets)
    return out
