import itertools

import pytest
import torch

from seqlab.tokenize.base import PAD
from seqlab.tokenize.fsq import FSQ, standard_levels
from seqlab.tokenize.kmeans import inertia, kmeans, minibatch_kmeans
from seqlab.tokenize.lfq import BinaryQuantizer, bits_to_codes, codes_to_bits
from seqlab.tokenize.rvq import ResidualKMeans, ResidualVQ


def data(n=800, dim=8, seed=0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def test_residual_vq_error_falls_with_each_level():
    x = data()
    rvq = ResidualVQ(8, 16, levels=4)
    rvq(x)
    rvq.eval()
    codes = rvq.encode(x)
    errs = [float((rvq.decode(codes[..., :n]) - x).pow(2).mean()) for n in range(1, 5)]
    assert all(a > b for a, b in zip(errs, errs[1:]))
    assert torch.equal(rvq.encode(x, levels=2), codes[..., :2])


def test_residual_vq_dropout_pads_dropped_levels_and_gradients_flow():
    rvq = ResidualVQ(8, 16, levels=4, quantizer_dropout=True, seed=1)
    seen = set()
    for _ in range(12):
        x = data(200).requires_grad_(True)
        out = rvq(x)
        n = int(out.metrics["levels_used"])
        seen.add(n)
        assert (out.codes[..., n:] == PAD).all() and (out.codes[..., :n] >= 0).all()
        (out.quantized.sum() + out.loss).backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert len(seen) > 1


def test_shared_codebook_uses_one_table():
    rvq = ResidualVQ(8, 16, levels=3, shared_codebook=True)
    assert len(rvq.vqs) == 1 and rvq.level(0) is rvq.level(2)
    out = rvq(data())
    assert out.codes.shape == (800, 3)


def test_minibatch_kmeans_close_to_lloyd():
    x = data(3000, 4)
    g = torch.Generator().manual_seed(0)
    full = inertia(x, kmeans(x, 16, 30, g))
    mini = inertia(x, minibatch_kmeans(x, 16, batch_size=256, steps=150, generator=g))
    assert mini < 1.15 * full


def test_residual_kmeans_fit_encode_decode():
    x = data(1200)
    rk = ResidualKMeans(8, 16, levels=3).fit(x, batch_size=256, steps=60)
    codes = rk.encode(x)
    assert codes.shape == (1200, 3) and codes.min() >= 0 and codes.max() < 16
    errs = [float((rk.decode(codes[..., :n]) - x).pow(2).mean()) for n in range(1, 4)]
    assert all(a > b for a, b in zip(errs, errs[1:]))
    with pytest.raises(ValueError, match="fitted"):
        ResidualKMeans(8, 16).encode(x)
    with pytest.raises(ValueError, match="at least 16 vectors"):
        ResidualKMeans(8, 16).fit(x[:10])


def test_fsq_lattice_bijection_exhaustive():
    fsq = FSQ([8, 5, 5, 5])
    codes = torch.arange(fsq.codebook_size)
    values = fsq.codes_to_values(codes)
    assert values.unique(dim=0).shape[0] == 1000
    assert torch.equal(fsq._to_codes(values), codes)
    for lv in ([3, 4], [2, 2, 2], [7]):  # odd and even levels: each channel takes exactly L values
        f = FSQ(lv)
        vals = f.quantize(torch.linspace(-8, 8, 4001)[:, None].expand(-1, len(lv)))
        for i, n in enumerate(lv):
            assert vals[:, i].unique().numel() == n


def test_fsq_standard_levels_and_gradients():
    assert standard_levels(2**10) == [8, 5, 5, 5]
    with pytest.raises(ValueError, match="no standard FSQ level set"):
        standard_levels(1000)
    with pytest.raises(ValueError, match=">= 2"):
        FSQ([8, 1])
    fsq = FSQ([8, 6, 5], dim=16)
    x = torch.randn(20, 16, requires_grad=True)
    out = fsq(x)
    out.quantized.pow(2).sum().backward()
    assert x.grad.abs().sum() > 0
    assert torch.equal(fsq.encode(x), out.codes)
    torch.testing.assert_close(fsq.decode(out.codes), out.quantized.detach())


def test_binary_codes_round_trip_and_bits():
    codes = torch.arange(2**6)
    assert torch.equal(bits_to_codes(codes_to_bits(codes, 6)), codes)
    lfq = BinaryQuantizer(6, 6)
    assert torch.equal(lfq.encode(lfq.decode(codes)), codes)
    x = torch.randn(10, 6)
    assert torch.equal(lfq.encode_bits(x), (x > 0).long())


def test_lfq_exact_codebook_entropy_matches_brute_force():
    lfq = BinaryQuantizer(3, 3)
    z = torch.randn(9, 3, dtype=torch.float64)
    per_sample, codebook = lfq.entropy_terms(z)
    p1 = torch.sigmoid(4 * z)
    probs = torch.zeros(9, 8, dtype=torch.float64)
    for c, bits in enumerate(itertools.product([0, 1], repeat=3)):
        b = torch.tensor(bits[::-1], dtype=torch.float64)  # bit i of code c is bits[::-1][i]
        probs[:, c] = (p1 * b + (1 - p1) * (1 - b)).prod(-1)
    avg = probs.mean(0)
    torch.testing.assert_close(codebook, -(avg * avg.log()).sum())
    torch.testing.assert_close(per_sample, -(probs * probs.log()).sum(-1).mean())


def test_lfq_entropy_loss_spreads_codes():
    torch.manual_seed(0)
    lfq = BinaryQuantizer(8, 4, entropy_weight=1.0, commitment=0.0)
    x = torch.randn(512, 8) * 0.1 + 1.0  # everything starts in one corner
    opt = torch.optim.Adam(lfq.parameters(), lr=0.05)
    before = lfq(x).metrics["perplexity"]
    for _ in range(100):
        out = lfq(x)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert lfq(x).metrics["perplexity"] > 2 * before


def test_lfq_masks_and_bad_codes():
    lfq = BinaryQuantizer(5, 5)
    mask = torch.tensor([[True, False, True]])
    out = lfq(torch.randn(1, 3, 5), mask)
    assert out.codes[0, 1] == PAD and (out.quantized[0, 1] == 0).all()
    with pytest.raises(ValueError, match=r"\[0, 32\)"):
        lfq.decode(torch.tensor([32]))


def test_projected_quantizers_are_seeded():
    x = data(50, 16)
    assert torch.equal(FSQ([5, 5], dim=16, seed=1).encode(x), FSQ([5, 5], dim=16, seed=1).encode(x))
    assert torch.equal(BinaryQuantizer(16, 6, seed=2).encode(x), BinaryQuantizer(16, 6, seed=2).encode(x))
    assert not torch.equal(BinaryQuantizer(16, 6, seed=2).encode(x), BinaryQuantizer(16, 6, seed=3).encode(x))
