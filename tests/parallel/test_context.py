"""Context parallelism (state relay between ranks) equals one process: outputs and gradients."""

import pytest
import torch

from seqlab.models import SequenceModel
from seqlab.parallel.comm import sum_grads
from seqlab.parallel.context import context_parallel, span_of
from seqlab.parallel.launch import run_local
from seqlab.registry import create

LENGTH = 23  # divides by neither 2 nor 3


def _cases():
    torch.manual_seed(0)
    model = SequenceModel(mixer="mamba2", d_model=16, n_layers=2, d_input=3, n_outputs=5)
    torch.manual_seed(4)
    lm = SequenceModel(mixer="retention", d_model=16, n_layers=1, vocab_size=7)  # token inputs
    torch.manual_seed(1)
    gateloop = create("mixer", "gateloop", d_model=8)  # complex state
    torch.manual_seed(2)
    attention = create("mixer", "attention", d_model=8)  # a cache that grows with the length
    g = torch.Generator().manual_seed(3)

    def rand(d):
        return torch.randn(2, LENGTH, d, generator=g)

    return [
        ("model", model, rand(3), rand(5)),
        ("lm", lm, torch.randint(0, 7, (2, LENGTH), generator=g), rand(7)),
        ("gateloop", gateloop, rand(8), rand(8)),
        ("attention", attention, rand(8), rand(8)),
    ]


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters()}


def _worker(rank, world):
    out = {}
    for name, module, x, w in _cases():
        a, b = span_of(LENGTH, world, rank)
        xs = x[:, a:b].clone().requires_grad_(x.is_floating_point())
        y = context_parallel(module, xs)
        (y * w[:, a:b]).sum().backward()
        sum_grads(module)
        out[name] = (y.detach(), xs.grad, _grads(module))
    return out


@pytest.mark.parametrize("world", [2, 3])
def test_context_parallel_equals_one_process(world):
    results = run_local(_worker, world, timeout_s=120)
    for name, module, x, w in _cases():
        x = x.clone().requires_grad_(x.is_floating_point())
        y = module(x)
        (y * w).sum().backward()
        for rank in range(world):
            a, b = span_of(LENGTH, world, rank)
            y_r, gx_r, gp_r = results[rank][name]
            torch.testing.assert_close(y_r, y[:, a:b].detach(), rtol=1e-4, atol=1e-5, msg=name)
            if x.is_floating_point():
                torch.testing.assert_close(gx_r, x.grad[:, a:b], rtol=1e-4, atol=1e-5, msg=name)
            else:
                assert gx_r is None
            for k, g in _grads(module).items():
                torch.testing.assert_close(gp_r[k], g, rtol=1e-4, atol=1e-5, msg=f"{name} {k}")


def test_span_of_covers_uneven_lengths_and_refuses_short():
    spans = [span_of(23, 3, r) for r in range(3)]
    assert spans == [(0, 8), (8, 16), (16, 23)]
    with pytest.raises(ValueError, match="length 2 cannot give each of 3 ranks"):
        span_of(2, 3, 0)
    with pytest.raises(ValueError, match="0 <= rank < world"):
        span_of(10, 2, 2)


def test_context_parallel_refuses_without_group_or_chunked_form():
    with pytest.raises(ValueError, match="forward_with_state"):
        context_parallel(torch.nn.Linear(2, 2), torch.zeros(1, 3, 2))
    with pytest.raises(ValueError, match="process group"):
        context_parallel(create("mixer", "gru", d_model=4), torch.zeros(1, 3, 4))
