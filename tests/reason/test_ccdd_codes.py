"""CCDD with a pretrained LM's embedding space as the continuous side: the code construction."""

import numpy as np
import pytest
import torch

from seqlab.experiments.cell import get_experiment
from seqlab.lm.interface import Encoded
from seqlab.reason.ccdd import CCDD, embedding_codes, lm_token_codes, task_token_strings
from seqlab.registry import create


def test_embedding_codes_are_the_unit_principal_projections():
    g = torch.Generator().manual_seed(0)
    E = torch.randn(12, 7, generator=g) * torch.tensor([5.0, 4, 3, 2, 1, 0.5, 0.1]) + 3
    got = embedding_codes(E, 3).numpy()
    x = E.double().numpy() - E.double().numpy().mean(0)
    vals, vecs = np.linalg.eigh(x.T @ x)
    top = vecs[:, np.argsort(vals)[::-1][:3]]
    want = x @ top
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    for j in range(3):  # a principal direction is defined up to its sign
        sign = np.sign(np.dot(got[:, j], want[:, j]))
        assert np.allclose(got[:, j], sign * want[:, j], atol=1e-5)
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-6)


def test_embedding_codes_refuse_bad_sizes():
    with pytest.raises(ValueError, match="d_code must be"):
        embedding_codes(torch.randn(4, 8), 4)  # centring leaves rank 3
    with pytest.raises(ValueError, match="tokens, dim"):
        embedding_codes(torch.randn(4), 2)


class FakeLM:
    """Each character is one piece; ids padded with 0 on the right."""

    def __init__(self):
        self.table = torch.randn(50, 6, generator=torch.Generator().manual_seed(1))

    def encode(self, texts):
        width = max(len(t) for t in texts)
        ids = torch.tensor([[ord(c) % 49 + 1 for c in t] + [0] * (width - len(t)) for t in texts])
        mask = torch.tensor([[1] * len(t) + [0] * (width - len(t)) for t in texts])
        return Encoded(ids, mask)

    def input_embeddings(self, ids):
        return self.table[ids]


def test_lm_codes_average_the_pieces_of_each_string():
    lm, strings = FakeLM(), ["1", "12", "-3", "yes", "</think>"]
    got = lm_token_codes(lm, strings, 3)
    means = torch.stack([lm.table[[ord(c) % 49 + 1 for c in s]].mean(0) for s in strings])
    assert torch.allclose(got, embedding_codes(means, 3), atol=1e-5)


def test_task_token_strings_name_what_each_token_stands_for():
    task = create("task", "subset_sum", n_numbers=3, max_value=4)
    names = task_token_strings(task)
    assert len(names) == task.vocab_size and names[:2] == ["<pad>", "<think>"]
    for v in (-3, 0, 5):
        assert names[task.value_token(v)] == str(v)


def test_ccdd_takes_the_code_table_and_uses_it():
    task = create("task", "subset_sum", n_numbers=3, max_value=4)
    codes = embedding_codes(torch.randn(task.vocab_size, 20), 8)
    m = CCDD(task.vocab_size, 4, d_model=16, n_heads=2, d_code=8, codes=codes)
    assert torch.equal(m.codes[:-1], codes) and (m.codes[-1] == 0).all()
    default = CCDD(task.vocab_size, 4, d_model=16, n_heads=2, d_code=8)
    assert default.codes.shape == (task.vocab_size + 1, 8) and not torch.equal(default.codes[:-1], codes)
    with pytest.raises(ValueError, match="codes must be a"):
        CCDD(task.vocab_size, 4, d_code=8, codes=codes[:, :4])


def test_smollm2_codes_and_the_cell_option():
    from seqlab.lm import load

    lm = load("smollm2-135m")
    task = create("task", "subset_sum", n_numbers=3, max_value=4)
    names = task_token_strings(task)
    codes = lm_token_codes(lm, names, 16)
    assert codes.shape == (task.vocab_size, 16)
    assert torch.allclose(codes.norm(dim=1), torch.ones(task.vocab_size), atol=1e-5)
    enc = lm.encode(["7"])  # a one-piece string's vector is that piece's input embedding
    assert int(enc.mask.sum()) == 1
    out = get_experiment("reason.ccdd")(
        {
            "task": "subset_sum",
            "task_kw": {"n_numbers": 3, "max_value": 4},
            "mode": "joint",
            "codes": "smollm2-135m",
            "steps": 2,
            "d_model": 16,
            "n_heads": 2,
            "eval_n": 4,
        },
        0,
    )
    assert 0 <= out["accuracy"] <= 1
