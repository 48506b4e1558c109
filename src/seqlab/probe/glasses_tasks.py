"""Counting and copying failures of a causal LM as sequences grow, and the float-precision collapse.

Paper: Barbero et al., "Transformers need glasses! Information over-squashing in language tasks"
(arXiv 2406.04267). The last token's representation has to carry the whole sequence; as ``n`` grows,
sequences that differ in one place get ever closer representations (over-squashing), so:

- **counting** (how many 1s in a string of 0s and 1s) gets harder with length;
- **copying** a token that sits at the *first* position of a long run is harder than copying the *last*
  one: the last token reaches the final representation through the fewest mixing steps, the first one
  is averaged with everything after it;
- in low precision (bf16 keeps 8 significand bits) the last-token states of ``1^n`` and ``1^(n+1)``
  become bit-identical once their difference falls under the format's resolution
  (:func:`seqlab.probe.oversquashing.last_token_collapse`).

Prompts are few-shot and written digit by digit (each digit is one token of SmolLM2): counting
``"1011: 3"``, copying ``"7333: 7"`` (first) or ``"3337: 7"`` (last). Scoring is greedy: counting reads
up to 2 generated tokens as an integer; copying takes the most probable of the ten digit tokens.
Trivial baselines are computed on the same samples: guessing the expected count ``round(L/2)``, and
answering the run's digit (always wrong by construction) or chance 1/10 for copying.
"""

from __future__ import annotations

import torch

from seqlab.experiments.cell import experiment

COUNT_SHOTS = "Count the ones.\n1011: 3\n0110100: 3\n"
COPY_SHOTS = {
    "first": "Copy the first digit.\n73333: 7\n255: 2\n",
    "last": "Copy the last digit.\n33337: 7\n552: 2\n",
}
GLASSES_DEFAULTS = {
    "model": "smollm2-135m",
    "lengths": [4, 8, 16, 32],
    "samples": 8,
    "collapse_lengths": [8, 32, 128],
}


def _encode(tok, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False)


def digit_ids(tok) -> list[int]:
    """The token id of each digit ``0..9`` (each must be a single token)."""
    out = []
    for d in range(10):
        ids = _encode(tok, str(d))
        if len(ids) != 1:
            raise ValueError(
                f"the tokenizer splits digit {d} into {ids}: these tasks need one token per digit"
            )
        out.append(ids[0])
    return out


def _prompt_ids(tok, shots: str, body: str) -> list[int]:
    digits = digit_ids(tok)
    return _encode(tok, shots) + [digits[int(c)] for c in body] + _encode(tok, ":") + _encode(tok, " ")


def counting_samples(length: int, n: int, gen: torch.Generator) -> tuple[list[str], list[int]]:
    """``n`` random 0/1 strings of ``length`` and their counts of 1s."""
    bits = torch.randint(0, 2, (n, length), generator=gen)
    return ["".join(map(str, row.tolist())) for row in bits], bits.sum(1).tolist()


def copying_samples(
    length: int, n: int, which: str, gen: torch.Generator
) -> tuple[list[str], list[int], list[int]]:
    """``n`` strings of ``length``: a run of digit ``a`` with a different digit ``b`` at the ``which``
    end; returns (strings, targets ``b``, run digits ``a``)."""
    if which not in ("first", "last"):
        raise ValueError(f"which must be 'first' or 'last', got {which!r}")
    if length < 2:
        raise ValueError(f"copying needs length >= 2, got {length}")
    a = torch.randint(0, 10, (n,), generator=gen)
    b = (a + torch.randint(1, 10, (n,), generator=gen)) % 10
    out = []
    for x, y in zip(a.tolist(), b.tolist()):
        run = str(x) * (length - 1)
        out.append(str(y) + run if which == "first" else run + str(y))
    return out, b.tolist(), a.tolist()


def _logits(lm, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return lm.logits(ids).float()


def greedy_integers(lm, prompts: torch.Tensor, max_tokens: int = 2) -> list[int | None]:
    """Greedy continuation of ``prompts (B, T)`` (``max_tokens`` tokens) read as a leading integer
    (``None`` if it does not start with a digit)."""
    digits = {t: d for d, t in enumerate(digit_ids(lm.tokenizer))}
    ids = prompts
    new = []
    for _ in range(max_tokens):
        nxt = _logits(lm, ids)[:, -1].argmax(-1)
        new.append(nxt)
        ids = torch.cat([ids, nxt[:, None]], 1)
    out: list[int | None] = []
    for row in torch.stack(new, 1).tolist():
        text = ""
        for t in row:
            if t not in digits:
                break
            text += str(digits[t])
        out.append(int(text) if text else None)
    return out


def digit_choice(lm, prompts: torch.Tensor) -> list[int]:
    """The most probable of the ten digit tokens next (one forward pass)."""
    return _logits(lm, prompts)[:, -1, digit_ids(lm.tokenizer)].argmax(-1).tolist()


def _batch(tok, shots: str, bodies: list[str]) -> torch.Tensor:
    rows = [_prompt_ids(tok, shots, b) for b in bodies]
    if len({len(r) for r in rows}) != 1:
        raise ValueError("prompts of one length must tokenise to the same number of tokens")
    return torch.tensor(rows)


def counting_accuracy(lm, length: int, n: int, gen: torch.Generator) -> dict:
    """Exact-count accuracy of ``lm`` on ``n`` strings of ``length``, and of guessing ``round(length/2)``."""
    bodies, counts = counting_samples(length, n, gen)
    pred = greedy_integers(lm, _batch(lm.tokenizer, COUNT_SHOTS, bodies))
    guess = round(length / 2)
    return {
        "accuracy": sum(p == c for p, c in zip(pred, counts)) / n,
        "guess_half": sum(guess == c for c in counts) / n,
        "abs_error": sum(abs((p if p is not None else 0) - c) for p, c in zip(pred, counts)) / n,
    }


def copying_accuracy(lm, length: int, n: int, which: str, gen: torch.Generator) -> dict:
    """Accuracy of copying the ``which`` digit, and of answering the run's digit instead."""
    bodies, target, run = copying_samples(length, n, which, gen)
    pred = digit_choice(lm, _batch(lm.tokenizer, COPY_SHOTS[which], bodies))
    return {
        "accuracy": sum(p == t for p, t in zip(pred, target)) / n,
        "run_digit": sum(p == r for p, r in zip(pred, run)) / n,
    }


@experiment("probe.glasses_tasks")
def glasses_tasks(params: dict, seed: int) -> dict:
    """Counting and copying accuracy per length on SmolLM2, and the bf16/fp16 collapse of ``1^n``."""
    from seqlab.lm import load
    from seqlab.probe.oversquashing import last_token_collapse

    p = {**GLASSES_DEFAULTS, **params}
    lm = load(p["model"])
    lengths, n = [int(x) for x in p["lengths"]], int(p["samples"])
    gen = torch.Generator().manual_seed(seed)
    out: dict = {"lengths": lengths}
    count = [counting_accuracy(lm, L, n, gen) for L in lengths]
    out["count_accuracy"] = [c["accuracy"] for c in count]
    out["count_guess_half"] = [c["guess_half"] for c in count]
    out["count_abs_error"] = [c["abs_error"] for c in count]
    for which in ("first", "last"):
        res = [copying_accuracy(lm, L, n, which, gen) for L in lengths]
        out[f"copy_{which}"] = [r["accuracy"] for r in res]
        out[f"copy_{which}_run_digit"] = [r["run_digit"] for r in res]
    out["count_drop"] = out["count_accuracy"][0] - out["count_accuracy"][-1]
    out["count_guess_drop"] = out["count_guess_half"][0] - out["count_guess_half"][-1]
    long = [i for i, L in enumerate(lengths) if L >= 16]
    out["copy_last_minus_first"] = sum(out["copy_last"][i] - out["copy_first"][i] for i in long) / len(long)
    out["copy_last_short"] = out["copy_last"][0]
    if seed == 0:  # deterministic: the same for every seed
        tok = lm.tokenizer
        one = digit_ids(tok)[1]
        rows = last_token_collapse(
            lm, one, [int(x) for x in p["collapse_lengths"]], prefix=_encode(tok, "Ones:")
        )
        out["collapse"] = rows
    return out
