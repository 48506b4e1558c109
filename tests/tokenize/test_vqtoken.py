import pytest
import torch

from seqlab.tokenize.vqtoken import VQToken, VQTokenCode, make_video_grid, tok_dense


def test_adaptive_vqtoken_compresses_below_one_percent_with_positions_intact():
    grid, labels = make_video_grid(frames=12, height=16, width=16, dim=32, seed=1)
    vqt = VQToken(tolerance=0.01)  # above the noise floor (~0.003), below merging any two prototypes
    code = vqt.encode(grid)
    rep = vqt.report(grid, code)
    assert code.hash.shape == (12, 16, 16)
    assert rep["reduction_ratio"] < 0.01
    assert rep["relative_mse"] < 0.01
    # the hash is a relabelling of the generating prototypes: every code is one prototype
    for k in range(code.num_tokens):
        assert labels[code.hash == k].unique().numel() == 1
    assert code.num_tokens == labels.unique().numel()
    # positions recover exactly where each code sits
    pos = code.positions_of(0)
    assert (code.hash[pos[:, 0], pos[:, 1], pos[:, 2]] == 0).all()
    torch.testing.assert_close(vqt.decode(code)[3, 4, 5], code.tokens[code.hash[3, 4, 5]])


def test_fixed_length_variant_uses_exactly_k_tokens_and_error_falls_with_k():
    grid, _ = make_video_grid(frames=6, height=10, width=11, dim=16, seed=2)
    errs = []
    for k in (1, 2, 4):
        vqt = VQToken(num_tokens=k)
        code = vqt.encode(grid)
        assert code.num_tokens == k and code.reduction_ratio == k / (6 * 10 * 11)
        errs.append(vqt.report(grid, code)["relative_mse"])
    assert errs[0] > errs[1] > errs[2]
    assert errs[0] == pytest.approx(1.0, abs=1e-3)  # one token = the mean


def test_tokdense_and_bad_input():
    assert tok_dense(0.9, 3) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="num_tokens >= 1"):
        tok_dense(1.0, 0)
    with pytest.raises(ValueError, match=r"\(frames, height, width, dim\)"):
        VQToken().encode(torch.randn(4, 4, 8))
    with pytest.raises(ValueError, match="finite"):
        VQToken().encode(torch.full((2, 2, 2, 4), float("nan")))
    with pytest.raises(ValueError, match="at least that many"):
        VQToken(num_tokens=100).encode(torch.randn(2, 3, 3, 4))
    with pytest.raises(ValueError, match="hash"):
        VQToken().decode(VQTokenCode(torch.randn(2, 4), torch.full((1, 2, 2), 5)))


def test_same_seed_same_codes():
    grid, _ = make_video_grid(frames=4, height=8, width=8, dim=8, seed=3)
    a, b = VQToken(seed=1).encode(grid), VQToken(seed=1).encode(grid)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.hash, b.hash)
