"""RoPE's fast path (complex multiply, cached arange table) equals the explicit pairwise rotation."""

import pytest
import torch

from seqlab.registry import create


def _explicit(x, positions, freq, interpolation=1.0):
    """(x_2i, x_2i+1) rotated by p * freq_i / s, written out with cos and sin in float64."""
    angle = positions.double()[:, None, :, None] * freq.double() / interpolation
    cos, sin = angle.cos(), angle.sin()
    n = 2 * freq.numel()
    a, b = x[..., 0:n:2].double(), x[..., 1:n:2].double()
    rot = torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)
    return torch.cat([rot, x[..., n:].double()], dim=-1)


@pytest.mark.parametrize("d, dtype", [(8, torch.float32), (8, torch.float64), (7, torch.float32)])
def test_rotation_matches_explicit_formula(d, dtype):
    rope = create("positional", "rope", d_model=d, interpolation=2.0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 9, d, generator=g, dtype=dtype)
    pos = torch.randint(0, 500, (3, 9), generator=g).sort(dim=1).values
    tol = {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {}
    torch.testing.assert_close(rope.rotate(x, pos).double(), _explicit(x, pos, rope.freq, 2.0), **tol)
    arange = torch.arange(9).expand(3, 9)
    torch.testing.assert_close(rope.rotate(x).double(), _explicit(x, arange, rope.freq, 2.0), **tol)


def test_cached_table_grows_and_non_contiguous_inputs_rotate_correctly():
    rope = create("positional", "rope", d_model=6)
    g = torch.Generator().manual_seed(1)
    short = torch.randn(2, 1, 4, 6, generator=g)
    rope.rotate(short)  # caches 4 positions
    big = torch.randn(2, 12, 3, 6, generator=g).transpose(1, 2)  # (2, 3, 12, 6), not contiguous
    want = _explicit(big, torch.arange(12).expand(2, 12), rope.freq)
    torch.testing.assert_close(rope.rotate(big).double(), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(rope.rotate(short).double(), _explicit(short, torch.arange(4).expand(2, 4),
                                                                      rope.freq), atol=1e-5, rtol=1e-5)


def test_bfloat16_rotation_close_to_float():
    rope = create("positional", "rope", d_model=8)
    x = torch.randn(2, 2, 5, 8, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(rope.rotate(x.bfloat16()).float(), rope.rotate(x), atol=3e-2, rtol=3e-2)


def test_attention_default_positions_equal_explicit_arange():
    torch.manual_seed(0)
    m = create("mixer", "attention", d_model=16, n_heads=2).eval()
    x = torch.randn(3, 11, 16)
    with torch.no_grad():
        torch.testing.assert_close(m(x), m(x, torch.arange(11).expand(3, 11)))
