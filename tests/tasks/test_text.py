import math

import pytest
import torch

from seqlab.registry import create
from seqlab.tasks.text import ALPHABET, UNKNOWN, encode


def test_encode_maps_case_whitespace_and_unknowns():
    ids = encode("Ab\n\n c€")
    assert ids.tolist() == [ALPHABET.index("a"), ALPHABET.index("b"), 0, ALPHABET.index("c"), UNKNOWN]


def test_windows_are_next_character_pairs_from_disjoint_splits():
    task = create("task", "text_lm", train_length=32)
    assert task.vocab_size == task.n_outputs == len(ALPHABET) + 1
    assert task.train_lengths == list(range(16, 33)) and task.test_lengths == [64, 128, 256]
    b = task.sample(8, seed=0, length=32)
    assert b["inputs"].shape == (8, 32) and b["mask"].all()
    assert torch.equal(b["inputs"][:, 1:], b["targets"][:, :-1])  # labels are the next characters
    long = task.sample(4, seed=0, split="test", length=256)
    assert long["inputs"].shape == (4, 256)
    train, test = task._splits["train"], task._splits["test"]
    assert len(test) > 30_000 and len(train) > 9 * len(test) - 100
    # English text: the unigram entropy is far below uniform over the alphabet
    p = torch.bincount(train, minlength=task.vocab_size).double() / len(train)
    h = -(p[p > 0] * p[p > 0].log2()).sum().item()
    assert 3.5 < h < 4.6 < math.log2(task.vocab_size)


def test_same_seed_same_batch_and_labels_do_not_depend_on_anything_but_text():
    task = create("task", "text_lm", train_length=16)
    a, b = task.sample(4, seed=3), task.sample(4, seed=3)
    assert torch.equal(a["inputs"], b["inputs"])
    assert not torch.equal(a["inputs"], task.sample(4, seed=4)["inputs"])


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"corpus": "nope.cor"}, "not a file"),
        ({"corpus": "../x"}, "not a file"),
        ({"train_length": 0}, "train_length"),
        ({"train_length": 8, "min_train_length": 9}, "exceeds"),
        ({"test_factors": (2, 0)}, "test_factors"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"train_length": 5000, "test_factors": (8,)}, "shorter than the longest window"),
    ],
)
def test_bad_parameters_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        create("task", "text_lm", **kw)
