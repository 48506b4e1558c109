"""Samba: the hybrid unit equals its four sub-layers composed by hand; bounded, carried state."""

import pytest
import torch

from seqlab.mixers.samba import Samba
from seqlab.models.sequence_model import SequenceModel

D = 8


def make(**kw):
    torch.manual_seed(0)
    cfg = dict(window=4, n_heads=2, mamba_cfg={"d_state": 4, "chunk": 8, "block": 10})
    cfg.update(kw)
    return Samba(D, **cfg).double().eval()


def inputs(length, batch=2, seed=1):
    return torch.randn(batch, length, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_is_mamba_mlp_window_attention_mlp():
    m, u = make(), inputs(15)
    n1, n2, n3, n4 = m.norms
    with torch.no_grad():
        h = u + m.mamba(n1(u))
        h = h + m.mlp1(n2(h))
        h = h + m.attention(n3(h))
        h = h + m.mlp2(n4(h))
        torch.testing.assert_close(m(u), h - u)
    assert m.attention.window == 4 and m.mamba.d_state == 4


def test_chunked_and_step_equal_parallel_float64():
    m, x = make(), inputs(19)
    with torch.no_grad():
        y = m(x)
        state, ys, t = None, [], 0
        for n in (3, 1, 6, 9):
            yc, state = m.forward_with_state(x[:, t : t + n], state)
            ys.append(yc)
            t += n
        torch.testing.assert_close(torch.cat(ys, 1), y, atol=1e-12, rtol=1e-10)
        state, ys = m.init_state(2, dtype=torch.float64), []
        for t in range(19):
            yt, state = m.step(x[:, t], state)
            ys.append(yt)
        torch.testing.assert_close(torch.stack(ys, 1), y, atol=1e-12, rtol=1e-10)


def test_state_is_bounded_by_the_window():
    m, x = make(), inputs(30)
    with torch.no_grad():
        state = m.init_state(2, dtype=torch.float64)
        sizes = set()
        for t in range(30):
            _, state = m.step(x[:, t], state)
            if t >= 4:
                sizes.add(sum(v.numel() for v in state["attention"].values()))
    assert state["attention"]["k"].shape[2] == 4
    assert len(sizes) == 1, "attention cache must stop growing once the window is full"


def test_attention_sees_only_the_window():
    """Differences beyond the window reach later outputs only through the Mamba state."""
    m, x = make(), inputs(12)
    x2 = x.clone()
    x2[:, 0] += 3.0
    with torch.no_grad():
        m.mamba.out_proj.weight.zero_()  # cut the Mamba path: the unit becomes MLP -> SWA -> MLP
        y, y2 = m(x), m(x2)
    torch.testing.assert_close(y[:, 4:], y2[:, 4:])
    assert not torch.allclose(y[:, :4], y2[:, :4])


def test_inside_sequence_model_chunked_equals_parallel():
    torch.manual_seed(0)
    model = SequenceModel(mixer="samba", d_model=D, n_layers=2, vocab_size=11,
                          mixer_cfg={"window": 5, "n_heads": 2}).eval()
    tokens = torch.randint(0, 11, (2, 17), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = model(tokens)
        a, s = model.forward_with_state(tokens[:, :7])
        b, _ = model.forward_with_state(tokens[:, 7:], s)
    torch.testing.assert_close(torch.cat([a, b], 1), full, atol=1e-5, rtol=1e-5)


def test_bad_config_and_state_raise():
    with pytest.raises(ValueError, match="window"):
        Samba(D, window=0)
    with pytest.raises(ValueError, match="state dict"):
        make().forward_with_state(inputs(3), {"mamba": None})
