import pytest
import torch

from seqlab.ops.blockwise import map_blocks, scan_in_blocks


def test_blocks_equal_one_pass_values_and_gradients():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 5, generator=g, dtype=torch.float64, requires_grad=True)  # closed over
    pos = torch.linspace(0, 1, 23, dtype=torch.float64, requires_grad=True)

    def fn(p):
        return torch.exp(w[..., None] * p).sum(1).T  # (block, 3)

    full = fn(pos)
    ref = torch.autograd.grad(full.square().sum(), (w, pos))
    for block in (1, 4, 22, 23, 50):
        out = map_blocks(fn, (pos,), dim=0, block=block, out_dim=0)
        torch.testing.assert_close(out, full)
        for a, b in zip(torch.autograd.grad(out.square().sum(), (w, pos)), ref):
            torch.testing.assert_close(a, b)


def test_bad_arguments_raise():
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="positive int block"):
        map_blocks(lambda t: t, (x,), dim=0, block=0, out_dim=0)
    with pytest.raises(ValueError, match="one size along dim 0"):
        map_blocks(lambda a, b: a, (x, torch.zeros(3, 2)), dim=0, block=2, out_dim=0)


def test_scan_in_blocks_matches_plain_loop():
    a = torch.full((1, 9, 1), 0.5, dtype=torch.float64)
    b = torch.arange(9, dtype=torch.float64).view(1, 9, 1)

    def fn(h, a, b):
        hs, out = h, []
        for t in range(a.shape[1]):
            hs = a[:, t] * hs + b[:, t]
            out.append(hs)
        return torch.stack(out, 1), hs

    y, h = scan_in_blocks(fn, torch.zeros(1, 1, dtype=torch.float64), (a, b), block=4)
    y_ref, h_ref = fn(torch.zeros(1, 1, dtype=torch.float64), a, b)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(h, h_ref)
