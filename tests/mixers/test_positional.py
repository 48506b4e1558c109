"""Positional encodings: values, registry entries, paper links, input validation."""

import math

import pytest
import torch

from seqlab.mixers.positional import RANDOMIZED, SURVEY, URPE_TITLE, alibi_slopes
from seqlab.papers import paper_rows
from seqlab.registry import create, get, names


def test_registered_with_additive_flags():
    assert {"sinusoidal", "learned", "rope", "alibi", "urpe"} <= set(names("positional"))
    for name, additive in [("sinusoidal", True), ("learned", True), ("rope", False), ("alibi", False),
                           ("urpe", False)]:
        assert create("positional", name, d_model=8, max_len=32).additive is additive


def test_papers_show_as_implemented():
    rows = {r.title: r.components for r in paper_rows()}
    assert "positional:sinusoidal" in rows[RANDOMIZED] and "positional:rope" in rows[RANDOMIZED]
    assert "positional:rope" in rows[SURVEY]
    assert rows[URPE_TITLE] == ["positional:urpe"]
    assert get("mixer", "attention").implements[0].arxiv == "1706.03762"


def test_sinusoidal_values():
    pe = create("positional", "sinusoidal", d_model=6, max_len=100)
    out = pe(torch.tensor([[0, 1, 7]]))
    assert out.shape == (1, 3, 6)
    p = 7
    want = [math.sin(p), math.cos(p), math.sin(p / 10000 ** (2 / 6)), math.cos(p / 10000 ** (2 / 6)),
            math.sin(p / 10000 ** (4 / 6)), math.cos(p / 10000 ** (4 / 6))]
    torch.testing.assert_close(out[0, 2], torch.tensor(want))
    torch.testing.assert_close(out[0, 0], torch.tensor([0.0, 1.0] * 3))
    odd = create("positional", "sinusoidal", d_model=5, max_len=10)
    assert odd(torch.zeros(1, 2, dtype=torch.long)).shape == (1, 2, 5)


def test_learned_table_trains_and_refuses_out_of_range():
    pe = create("positional", "learned", d_model=4, max_len=10)
    pe(torch.tensor([[0, 9]])).sum().backward()
    assert pe.table.weight.grad[[0, 9]].abs().sum() > 0 and pe.table.weight.grad[1:9].abs().sum() == 0
    with pytest.raises(ValueError, match="max_len=10"):
        pe(torch.tensor([[3, 10]]))


def test_rope_rotation_preserves_norm_and_interpolation_divides_positions():
    rope = create("positional", "rope", d_model=6, max_len=64)
    half = create("positional", "rope", d_model=6, max_len=64, interpolation=2.0)
    x = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(0))
    pos = torch.tensor([[0, 2, 4, 6, 8], [10, 12, 14, 16, 18]])
    y = rope.rotate(x, pos)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(half.rotate(x, pos), rope.rotate(x, pos // 2))
    torch.testing.assert_close(y[0, :, 0], x[0, :, 0])  # position 0 (sequence 0) is not rotated
    assert not torch.allclose(y[1, :, 0], x[1, :, 0])
    odd = create("positional", "rope", d_model=5, max_len=64)
    x5 = torch.randn(1, 1, 3, 5)
    torch.testing.assert_close(odd.rotate(x5, torch.tensor([[4, 5, 6]]))[..., 4], x5[..., 4])


def test_alibi_slopes_for_non_power_of_two_heads():
    torch.testing.assert_close(alibi_slopes(8), torch.tensor([2.0 ** -(h + 1) for h in range(8)]))
    want6 = [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8, 2.0**-1, 2.0**-3]
    torch.testing.assert_close(alibi_slopes(6), torch.tensor(want6))


@pytest.mark.parametrize(
    "positions, match",
    [(torch.zeros(3), "shape"), (torch.zeros(1, 3), "integer"), (torch.tensor([[0, -2]]), "non-negative"),
     (torch.ones(1, 3, dtype=torch.bool), "integer")],
)
def test_bad_positions_raise(positions, match):
    with pytest.raises(ValueError, match=match):
        create("positional", "sinusoidal", d_model=4, max_len=8)(positions)


@pytest.mark.parametrize("cfg", [{"d_model": 0, "max_len": 8}, {"d_model": 4, "max_len": 0}])
def test_bad_sizes_raise(cfg):
    with pytest.raises(ValueError, match="positive int"):
        create("positional", "learned", **cfg)


def test_unknown_positional_name_is_a_key_error():
    with pytest.raises(KeyError, match="valid names"):
        create("positional", "no-such-encoding", d_model=4, max_len=8)
