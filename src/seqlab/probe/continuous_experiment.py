"""Counting with durations on SmolLM2 (arXiv 2504.03933): do shrunk tokens count as fewer tokens?

The paper's observation: asked to count ``n`` repetitions of a word, an LLM whose repeated tokens are
given shorter durations predicts smaller counts, moving smoothly towards 1 as the repetitions' total
duration approaches that of one word. Here, per seed, ``n_words`` one-token nouns of the shipped
hierarchy; the prompt ``"Count the words: w w ... w. There are"`` with ``n`` or 1 repetitions; the
model's *expected count* ``c = sum_m m p(m)`` over the number words " one" .. " six" at the last
position (``p`` renormalised over the six). Measured, as means over the words:

- ``gap = c(n, 1) - c(1, 1)``: how much more the model counts for ``n`` copies than for one at unit
  durations (the positive control: the model has to see the repetitions at all);
- ``shrink_ratio = (c(n, 1) - c(n, 1/n)) / gap``: the fraction of that gap closed when each copy lasts
  ``1/n`` (total duration one word). 1: shrunk copies read as one word; 0: durations ignored;
- ``other_ratio``: the same when ``n`` prompt tokens *other* than the copies (the instruction) are
  shrunk to ``1/n`` instead (the effect must be specific to the counted tokens);
- ``curve``: ``c(n, delta)`` for ``delta`` in ``deltas`` (smoothness, not judged).
"""

from __future__ import annotations

import torch

from seqlab.experiments.cell import experiment
from seqlab.probe.concepts import load_hierarchy
from seqlab.probe.continuous import continuous_logits

NUMBER_WORDS = (" one", " two", " three", " four", " five", " six")
COUNT_DEFAULTS = {"model": "smollm2-135m", "n": 4, "n_words": 16, "deltas": [0.25, 0.5, 0.75, 1.0]}
PREFIX, SUFFIX = "Count the words:", ". There are"


def expected_count(logits_last: torch.Tensor, number_ids: list[int]) -> torch.Tensor:
    """``sum_m m p(m)`` with ``p`` the softmax of the logits of the number words ``(B, V) -> (B,)``."""
    p = logits_last[:, number_ids].double().softmax(-1)
    return p @ torch.arange(1, len(number_ids) + 1, dtype=torch.float64)


def count_prompt(tok, word_id: int, n: int) -> tuple[list[int], list[int], list[int]]:
    """(ids, positions of the copies, positions of the instruction tokens) of the counting prompt."""
    head = tok.encode(PREFIX, add_special_tokens=False)
    tail = tok.encode(SUFFIX, add_special_tokens=False)
    ids = head + [word_id] * n + tail
    return ids, list(range(len(head), len(head) + n)), list(range(len(head)))


def counting_of(lm, word_ids: list[int], n: int, deltas) -> dict:
    tok = lm.tokenizer
    numbers = [tok.encode(w, add_special_tokens=False)[0] for w in NUMBER_WORDS]

    def count(reps: int, shrink: str | None, delta: float) -> torch.Tensor:
        rows, durs = [], []
        for w in word_ids:
            ids, copies, instruction = count_prompt(tok, w, reps)
            d = torch.ones(len(ids), dtype=torch.float64)
            if shrink == "copies":
                d[copies] = delta
            elif shrink == "other":
                d[instruction[-n:]] = delta
            rows.append(ids)
            durs.append(d)
        logits = continuous_logits(lm, torch.tensor(rows), torch.stack(durs))
        return expected_count(logits[:, -1], numbers)

    one, full = count(1, None, 1.0), count(n, None, 1.0)
    shrunk, other = count(n, "copies", 1.0 / n), count(n, "other", 1.0 / n)
    gap = float((full - one).mean())
    return {
        "gap": gap,
        "shrink_ratio": float((full - shrunk).mean()) / gap if gap != 0 else 0.0,
        "other_ratio": float((full - other).mean()) / gap if gap != 0 else 0.0,
        "count_one": float(one.mean()),
        "count_n": float(full.mean()),
        "count_shrunk": float(shrunk.mean()),
        "count_other": float(other.mean()),
        "curve": {str(dl): float(count(n, "copies", dl).mean()) for dl in deltas},
    }


@experiment("probe.continuous_counting")
def continuous_counting(params: dict, seed: int) -> dict:
    from seqlab.lm import load

    p = {**COUNT_DEFAULTS, **params}
    lm = load(p["model"])
    tok = lm.tokenizer
    pool = sorted(
        {
            ids[0]
            for subs in load_hierarchy().values()
            for words in subs.values()
            for w in words
            if len(ids := tok.encode(" " + w, add_special_tokens=False)) == 1
        }
    )
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[: p["n_words"]]
    words = [pool[int(i)] for i in order]
    return counting_of(lm, words, p["n"], p["deltas"])
