"""The one RMSNorm: fused path against the written-out formula, and its input check."""

import pytest
import torch

from seqlab.ops.norm import RMSNorm, rms_norm, rms_norm_reference


@pytest.mark.parametrize("eps", [1e-6, 1e-5])
def test_rms_norm_matches_reference(eps):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 8, generator=g, dtype=torch.float64) * 3
    w = torch.randn(8, generator=g, dtype=torch.float64)
    torch.testing.assert_close(rms_norm(x, w, eps), rms_norm_reference(x, w, eps))
    torch.testing.assert_close(rms_norm(x, eps=eps), rms_norm_reference(x, eps=eps))
    y = rms_norm(x, eps=0.0)
    torch.testing.assert_close(y.pow(2).mean(-1), torch.ones(3, 5, dtype=torch.float64))


def test_module_learns_gain_and_checks_width():
    norm = RMSNorm(8)
    x = torch.randn(2, 8, requires_grad=True)
    norm(x).sum().backward()
    assert norm.weight.grad is not None and norm.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="expects last dim 8"):
        norm(torch.randn(2, 7))
    with pytest.raises(ValueError, match="positive int dim"):
        RMSNorm(0)
