"""Counting / copying of "Transformers need glasses!" (arXiv 2406.04267) with character-level fake LMs."""

import pytest
import torch

from seqlab.probe.glasses_tasks import (
    COPY_SHOTS,
    copying_accuracy,
    copying_samples,
    counting_accuracy,
    counting_samples,
    digit_ids,
)


class CharTokenizer:
    def encode(self, text, add_special_tokens=False):
        return [ord(c) for c in text]


class FakeLM:
    """Reads the prompt's last line (``body:``) and answers ``rule(body, mode)`` one char at a time."""

    def __init__(self, rule):
        self.tokenizer, self.rule = CharTokenizer(), rule

    def logits(self, ids):
        out = torch.zeros(ids.shape[0], ids.shape[1], 256)
        for b, row in enumerate(ids.tolist()):
            text = "".join(map(chr, row))
            mode = (
                "count"
                if text.startswith("Count")
                else ("first" if "first" in text.split("\n")[0] else "last")
            )
            line = text.rsplit("\n", 1)[-1]
            if ":" not in line:  # the answer is complete: keep writing newlines
                out[b, -1, ord("\n")] = 1.0
                continue
            body, done = line.split(":", 1)
            answer = self.rule(body, mode).strip() + "\n"
            done = done[1:]  # the prompt ends with ": "
            out[b, -1, ord(answer[min(len(done), len(answer) - 1)])] = 1.0
        return out


def oracle(body, mode):
    return str(body.count("1")) if mode == "count" else (body[0] if mode == "first" else body[-1])


def test_samples_match_a_loop():
    g = torch.Generator().manual_seed(0)
    bodies, counts = counting_samples(9, 20, g)
    assert all(len(b) == 9 and set(b) <= {"0", "1"} and b.count("1") == c for b, c in zip(bodies, counts))
    for which in ("first", "last"):
        bodies, target, run = copying_samples(7, 30, which, g)
        for b, t, r in zip(bodies, target, run):
            end, rest = (b[0], b[1:]) if which == "first" else (b[-1], b[:-1])
            assert int(end) == t != r and rest == str(r) * 6


def test_an_oracle_is_always_right_and_a_constant_guess_scores_the_baseline():
    g = torch.Generator().manual_seed(1)
    assert counting_accuracy(FakeLM(oracle), 12, 10, g)["accuracy"] == 1.0
    res = counting_accuracy(FakeLM(lambda b, m: "6"), 12, 40, torch.Generator().manual_seed(2))
    _, counts = counting_samples(12, 40, torch.Generator().manual_seed(2))
    assert res["accuracy"] == res["guess_half"] == sum(c == 6 for c in counts) / 40
    for which in ("first", "last"):
        r = copying_accuracy(FakeLM(oracle), 20, 10, which, g)
        assert r == {"accuracy": 1.0, "run_digit": 0.0}


def test_a_recency_model_copies_the_last_digit_but_not_the_first():
    g = torch.Generator().manual_seed(3)
    last = FakeLM(lambda b, m: b[-1])
    assert copying_accuracy(last, 16, 10, "last", g)["accuracy"] == 1.0
    first = copying_accuracy(last, 16, 10, "first", g)
    assert first == {"accuracy": 0.0, "run_digit": 1.0}


def test_multi_digit_counts_are_read_in_full():
    g = torch.Generator().manual_seed(4)
    res = counting_accuracy(FakeLM(oracle), 40, 6, g)  # counts of 10..30 are two digits
    assert res["accuracy"] == 1.0 and res["abs_error"] == 0.0


def test_bad_input_is_a_clear_error():
    g = torch.Generator().manual_seed(5)
    with pytest.raises(ValueError, match="'first' or 'last'"):
        copying_samples(5, 2, "middle", g)
    with pytest.raises(ValueError, match="length >= 2"):
        copying_samples(1, 2, "last", g)

    class Splits(CharTokenizer):
        def encode(self, text, add_special_tokens=False):
            return [ord(c) for c in text] + ([0] if text == "7" else [])

    with pytest.raises(ValueError, match="one token per digit"):
        digit_ids(Splits())
    assert "first" in COPY_SHOTS and "last" in COPY_SHOTS
