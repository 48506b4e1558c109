"""MambaLRP (arXiv 2406.07592), gradient x input and integrated gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.models import SequenceModel
from seqlab.ops.norm import RMSNorm
from seqlab.probe.lrp import (
    gelu_lrp,
    half_product,
    integrated_gradients,
    layer_norm_lrp,
    lrp_rules,
    relevance,
    rms_norm_lrp,
    silu_lrp,
)


def mamba_model(mlp_ratio=2.0, seed=0):
    torch.manual_seed(seed)
    model = SequenceModel(
        "mamba",
        d_model=12,
        n_layers=2,
        vocab_size=5,
        n_outputs=3,
        mlp_ratio=mlp_ratio,
        mixer_cfg={"d_state": 4},
    )
    return model.double().eval()


def embeds(model, batch=3, length=9, seed=0):
    ids = torch.randint(0, 5, (batch, length), generator=torch.Generator().manual_seed(seed))
    return model.embed(ids).detach()


def grad_x_input(fn, x):
    x = x.clone().requires_grad_(True)
    return (x * torch.autograd.grad(fn(x).sum(), x)[0]).detach()


def test_rules_keep_values_and_give_conserving_gradients():
    x = torch.randn(50, dtype=torch.float64)
    torch.testing.assert_close(silu_lrp(x), F.silu(x))
    torch.testing.assert_close(grad_x_input(silu_lrp, x), F.silu(x))  # x * sigmoid(x), all to x
    for approx in ("none", "tanh"):
        torch.testing.assert_close(gelu_lrp(x, approx), F.gelu(x, approximate=approx))
        torch.testing.assert_close(
            grad_x_input(lambda t, a=approx: gelu_lrp(t, a), x), F.gelu(x, approximate=approx)
        )
    a, b = torch.randn(7, dtype=torch.float64), torch.randn(7, dtype=torch.float64)
    ab = torch.stack([a, b]).requires_grad_(True)
    p = half_product(ab[0], ab[1])
    torch.testing.assert_close(p, a * b)
    g = torch.autograd.grad(p.sum(), ab)[0]
    torch.testing.assert_close(ab.detach() * g, torch.stack([a * b / 2, a * b / 2]))  # half to each factor
    h = torch.randn(4, 6, dtype=torch.float64)
    ln = nn.LayerNorm(6).double()
    nn.init.normal_(ln.weight), nn.init.normal_(ln.bias)
    torch.testing.assert_close(layer_norm_lrp(ln, h), ln(h))
    rms = RMSNorm(6).double()
    nn.init.normal_(rms.weight)
    torch.testing.assert_close(rms_norm_lrp(rms, h), rms(h))
    # with 1/std (1/rms) held constant the norm minus its bias is linear in h: relevance sums to the output
    for fn, out in (
        (lambda t: layer_norm_lrp(ln, t) - ln.bias, ln(h) - ln.bias),
        (lambda t: rms_norm_lrp(rms, t), rms(h)),
    ):
        torch.testing.assert_close(grad_x_input(fn, h).sum(-1), out.sum(-1).detach())
        plain = grad_x_input(lambda t: ln(t) - ln.bias, h).sum(
            -1
        )  # the unmodified LayerNorm does not conserve
        assert (plain - (ln(h) - ln.bias).sum(-1)).abs().max() > 1e-3


def test_lrp_rules_leave_the_forward_and_restore_the_model():
    model = mamba_model()
    e = embeds(model)
    before = model.forward_embeds(e).logits
    with lrp_rules(model):
        during = model.forward_embeds(e).logits
    torch.testing.assert_close(during, before, atol=1e-12, rtol=1e-10)
    patched = [m for m in model.modules() if "forward" in vars(m) or "_forward" in vars(m)]
    assert patched == []


@pytest.mark.parametrize("mlp_ratio", [0.0, 2.0])
def test_mamba_lrp_conserves_and_gradient_x_input_does_not(mlp_ratio):
    model = mamba_model(mlp_ratio)
    e = embeds(model)
    target = torch.tensor([0, 1, 2])
    lrp = relevance(model, e, target, rule="lrp")
    gxi = relevance(model, e, target, rule="gxi")
    torch.testing.assert_close(lrp.output, model.forward_embeds(e).logits[torch.arange(3), -1, target])
    torch.testing.assert_close(lrp.output, gxi.output)
    assert lrp.gap().max() < 1e-10  # sum of input and bias relevance = the logit
    assert gxi.gap().min() > 1e-3
    assert lrp.inputs.shape == e.shape and lrp.tokens.shape == e.shape[:2]


def test_relevance_of_a_linear_readout_is_the_closed_form():
    head = nn.Linear(4, 3, bias=False).double()
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    r = relevance(head, x, torch.tensor([2, 0]), position=3)
    want = torch.zeros_like(x)
    want[0, 3] = x[0, 3] * head.weight[2]
    want[1, 3] = x[1, 3] * head.weight[0]
    torch.testing.assert_close(r.inputs, want.detach())
    assert r.gap().max() < 1e-12 and r.bias.abs().max() == 0


def test_integrated_gradients_closed_forms():
    w = torch.randn(6, dtype=torch.float64)
    x, x0 = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    torch.testing.assert_close(integrated_gradients(lambda t: t @ w, x, x0, steps=1), w * (x - x0))
    a = torch.randn(6, dtype=torch.float64)
    ig = integrated_gradients(lambda t: (a * t**2).sum(-1), x, x0, steps=3)  # midpoint rule: exact here
    torch.testing.assert_close(ig, a * (x**2 - x0**2))


def test_integrated_gradients_match_captum_on_a_mamba_model():
    from captum.attr import IntegratedGradients  # the test extra installs captum

    model = mamba_model()
    e = embeds(model, batch=2)

    def fn(t):
        return model.forward_embeds(t).logits[:, -1, 1]

    ours = integrated_gradients(fn, e, steps=16)
    ref = IntegratedGradients(fn).attribute(e, n_steps=16, method="riemann_middle")
    torch.testing.assert_close(ours, ref, atol=1e-10, rtol=1e-8)


def test_bad_inputs():
    model = mamba_model()
    e = embeds(model)
    with pytest.raises(ValueError, match="rule"):
        relevance(model, e, torch.tensor([0, 1, 2]), rule="lrp-eps")
    with pytest.raises(ValueError, match="batch, length, d"):
        relevance(model, e[0], torch.tensor([0]))
    with pytest.raises(ValueError, match="integer targets"):
        relevance(model, e, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="position"):
        relevance(model, e, torch.tensor([0, 1, 2]), position=9)
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(lambda t: t.sum(-1), torch.zeros(2, 3), steps=0)
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients(lambda t: t.sum(-1), torch.zeros(2, 3), torch.zeros(3))
    with pytest.raises(ValueError, match="one value per row"):
        integrated_gradients(lambda t: t, torch.zeros(2, 3))
    att = SequenceModel("attention", d_model=8, n_layers=1, vocab_size=5, n_outputs=2)
    with pytest.raises(ValueError, match="mamba"):
        relevance(att, att.embed(torch.zeros(1, 3, dtype=torch.long)).detach(), torch.tensor([0]))
    assert all("forward" not in vars(m) for m in att.modules())  # patches undone after the error


def test_mamba_lrp_experiment_runs_small():
    from seqlab.probe.lrp_experiment import mamba_lrp

    r = mamba_lrp({"length": 6, "steps": 3, "n_explain": 2, "ig_steps": 2, "d_model": 8}, seed=0)
    assert r["gap_lrp"] < 1e-10 < r["gap_gxi"]
    assert 0.0 <= r["accuracy"] <= 1.0 and set(r) >= {"aopc_lrp", "aopc_gxi", "aopc_ig", "aopc_random"}
