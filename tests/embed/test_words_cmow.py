"""CMOW / hybrid: the ordered matrix product, identity initialisation and padding, order sensitivity, I/O."""

import pytest
import torch

from seqlab.embed.cmow import CMOW, HybridCBOWCMOW, MatrixEmbedder, ordered_product
from seqlab.registry import create


def toy_corpus(seed=0, n=300, length=12):
    """Two topics: words of one topic co-occur in a sentence, never with the other's."""
    g = torch.Generator().manual_seed(seed)
    topics = [[f"a{i}" for i in range(6)], [f"b{i}" for i in range(6)]]
    return [
        [topics[k % 2][j] for j in torch.randint(0, 6, (length,), generator=g).tolist()] for k in range(n)
    ]


def test_ordered_product_is_left_to_right():
    g = torch.Generator().manual_seed(0)
    a, b, c = (torch.randn(3, 3, generator=g) for _ in range(3))
    got = ordered_product(torch.stack([a, b, c])[None])[0]
    assert torch.allclose(got, a @ b @ c, atol=1e-6)
    assert not torch.allclose(got, c @ b @ a, atol=1e-3)


def test_encoding_is_order_aware_and_padding_is_identity():
    m = CMOW(vector_size=9, window=1, negative=2, min_count=1, epochs=1, seed=0).fit(toy_corpus(n=20))
    i, j = m.key_to_index["a0"], m.key_to_index["a1"]
    xa, xb = m.mat[i].detach(), m.mat[j].detach()
    e = m.encode([["a0", "a1"], ["a1", "a0"]])
    assert torch.allclose(e[0], (xa @ xb).reshape(-1), atol=1e-6)
    assert torch.allclose(e[1], (xb @ xa).reshape(-1), atol=1e-6)
    assert not torch.allclose(e[0], e[1], atol=1e-4)
    batch = m.encode_batch([["a0", "a1"], ["a1"]])  # the shorter one is padded with identity matrices
    assert torch.allclose(batch[0], e[0], atol=1e-6) and torch.allclose(batch[1], xb.reshape(-1), atol=1e-6)


def test_identity_initialisation():
    m = MatrixEmbedder(mode="cmow", vector_size=16, init_std=0.0)
    m._init_params(5, torch.Generator().manual_seed(0))
    assert torch.equal(m.mat.detach(), torch.eye(4).expand(5, 4, 4))
    m = MatrixEmbedder(mode="cmow", vector_size=16, init_std=0.1)
    m._init_params(200, torch.Generator().manual_seed(0))
    noise = m.mat.detach() - torch.eye(4)
    assert abs(float(noise.std()) - 0.1) < 0.01 and abs(float(noise.mean())) < 0.01


def test_hybrid_concatenates_mean_and_product_and_trains(tmp_path):
    m = create("embedder", "hybrid", vector_size=32, window=2, negative=3, min_count=1, epochs=3, seed=0)
    m.fit(toy_corpus(n=100))
    assert m.stats["loss_last"] < m.stats["loss_first"]
    i, j = m.key_to_index["b0"], m.key_to_index["b1"]
    e = m.encode([["b0", "b1"]])[0]
    vec, mat = m.vec.detach(), m.mat.detach()
    assert torch.allclose(e[:16], (vec[i] + vec[j]) / 2, atol=1e-6)
    assert torch.allclose(e[16:], (mat[i] @ mat[j]).reshape(-1), atol=1e-6)
    m.save(tmp_path / "h")
    back = HybridCBOWCMOW.load(tmp_path / "h")
    assert torch.allclose(back.encode([["b1", "b0"]]), m.encode([["b1", "b0"]]))


def test_bad_sizes_and_corpora():
    with pytest.raises(ValueError, match="perfect square"):
        CMOW(vector_size=10)
    with pytest.raises(ValueError, match="twice a perfect square"):
        HybridCBOWCMOW(vector_size=18 + 1)
    with pytest.raises(ValueError, match="mode"):
        MatrixEmbedder(mode="bag")
    with pytest.raises(ValueError, match="2 \\* window \\+ 1"):
        CMOW(vector_size=4, window=20, min_count=1).fit([["a", "b", "c"]])
