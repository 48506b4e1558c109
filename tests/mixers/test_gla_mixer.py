"""The GLA mixer: per-key-dim input-dependent gates, and its Triton backend against PyTorch."""

import pytest
import torch

from seqlab.mixers.gla import GLA
from seqlab.ops.gla import gla_recurrent


def test_gates_are_per_key_dim_and_input_dependent():
    torch.manual_seed(0)
    m = GLA(16, n_heads=2)
    x = torch.randn(2, 5, 16)
    q, k, v, log_g = m._qkvg(x)
    assert log_g.shape == q.shape == (2, 2, 5, 4)  # key width = key_ratio * d_model / heads
    assert v.shape == (2, 2, 5, 8)
    assert (log_g <= 0).all() and log_g.std() > 0  # gates in (0, 1], not one value per head
    assert (log_g >= torch.nn.functional.logsigmoid(torch.tensor(-50.0)) / 16).all()


def test_forward_equals_the_plain_recurrence():
    torch.manual_seed(1)
    m = GLA(16, n_heads=2).double()
    x = torch.randn(2, 19, 16, dtype=torch.float64)
    o_ref, _ = gla_recurrent(*m._qkvg(x))
    torch.testing.assert_close(m(x), m._output(o_ref, x))


def test_triton_backend_matches_torch_in_the_mixer():
    torch.manual_seed(2)
    a = GLA(16, n_heads=2, backend="triton")
    b = GLA(16, n_heads=2, backend="torch")
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 21, 16)
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb, rtol=1e-4, atol=1e-4)
    ya.square().sum().backward()
    yb.square().sum().backward()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-3, atol=1e-4, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize(
    "kw, match",
    [({"n_heads": 3}, "divisor"), ({"key_ratio": 0.1}, "key_ratio"), ({"tau": 0.0}, "tau")],
)
def test_bad_configs_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        GLA(16, **kw)
