"""DSP, Ulysses and ring attention on 2 and 4 gloo ranks equal one process: outputs and gradients."""

import pytest
import torch

from seqlab.models.spatiotemporal import SHARD_DIM, SpatialTemporalTransformer, shard_grid
from seqlab.parallel.comm import COUNTER, sum_grads
from seqlab.parallel.launch import run_local

SCHEMES = ("dsp", "ulysses", "ring")


def _setup():
    torch.manual_seed(0)
    model = SpatialTemporalTransformer(d_model=16, n_heads=4, n_layers=2)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 8, 16, generator=g)  # (batch, time, space, d_model)
    w = torch.randn(2, 4, 8, 16, generator=g)
    return model, x, w


def _worker(rank, world):
    out = {}
    for scheme in SCHEMES:
        model, x, w = _setup()
        xs = shard_grid(x, scheme, rank, world).clone().requires_grad_(True)
        COUNTER.reset()
        y = model(xs, scheme)
        (y * shard_grid(w, scheme, rank, world)).sum().backward()
        sent = (COUNTER.forward, COUNTER.backward)
        sum_grads(model)
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        out[scheme] = (y.detach(), xs.grad.clone(), grads, sent)
    return out


@pytest.mark.parametrize("world", [2, 4])
def test_sequence_parallel_schemes_equal_one_process(world):
    results = run_local(_worker, world, timeout_s=180)
    model, x, w = _setup()
    x.requires_grad_(True)
    y = model(x)
    (y * w).sum().backward()
    ref = {n: p.grad for n, p in model.named_parameters()}
    local = x.numel() * x.element_size() // world  # bytes of one rank's activation shard
    p = world
    units = {"dsp": 2 * (p - 1) / p, "ulysses": 4 * (p - 1) / p, "ring": 2 * (p - 1)}  # per block
    for scheme in SCHEMES:
        for rank in range(world):
            y_r, gx_r, gp_r, (fwd, bwd) = results[rank][scheme]
            torch.testing.assert_close(y_r, shard_grid(y.detach(), scheme, rank, world), rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(gx_r, shard_grid(x.grad, scheme, rank, world), rtol=1e-4, atol=1e-5)
            for k, g in ref.items():
                torch.testing.assert_close(gp_r[k], g, rtol=1e-4, atol=1e-4, msg=f"{scheme} {k}")
            # bytes each rank sent per pass over 2 blocks: the volumes in the module docstring
            assert fwd == bwd == round(2 * units[scheme] * local), (scheme, fwd, bwd)


def test_one_process_refusals():
    model, x, _ = _setup()
    with pytest.raises(ValueError, match="needs an initialised process group"):
        model(x, "dsp")
    with pytest.raises(ValueError, match="scheme must be one of"):
        model(x, "zigzag")
    with pytest.raises(ValueError, match=r"shape \(batch, time, space, 16\)"):
        model(x[0])
    with pytest.raises(ValueError, match="must divide by world=3"):
        shard_grid(x, "dsp", 0, 3)
    assert SHARD_DIM["dsp"] == 2 and SHARD_DIM["ring"] == 1
