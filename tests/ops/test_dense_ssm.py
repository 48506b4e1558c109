"""Dense-state chunk evaluation (Krylov powers) against the step-by-step recursion."""

import pytest
import torch

from seqlab.ops.dense_ssm import dense_chunk, dense_reference, dense_step


@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("length", [1, 5, 16])
def test_chunk_equals_reference_with_carried_state(complex_, length):
    g = torch.Generator().manual_seed(0)
    dtype = torch.complex128 if complex_ else torch.float64
    H, N, B = 3, 4, 2

    def rnd(*shape):
        t = torch.randn(*shape, generator=g, dtype=torch.float64)
        return torch.complex(t, torch.randn(*shape, generator=g, dtype=torch.float64)) if complex_ else t

    da = rnd(H, N, N) * 0.3
    db, c = rnd(H, N), rnd(H, N)
    u = torch.randn(B, length, H, generator=g, dtype=torch.float64)
    x0 = rnd(B, H, N).to(dtype)
    y_ref, h_ref = dense_reference(da, db, c, u, x0)
    y_zero, _ = dense_reference(da, db, c, u, torch.zeros_like(x0))
    y_state, h = dense_chunk(da, db, c, u, x0)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(y_state, y_ref - y_zero)  # the carried state's share of the output
    y1, h1 = dense_step(da, db, c, u[:, 0], x0)
    torch.testing.assert_close(y1, y_ref[:, 0])
