"""SLED and the RVQ-token model on the causal-transformer backbone: causality, cached sampling equal to the
parallel pass, bad input, and the claim sled_energy_transformer (learning: tests/generate/test_energy.py)."""

from __future__ import annotations

import pytest
import torch

from seqlab.generate import SLED, RVQTokenAR, sinusoid_trajectories
from seqlab.generate.energy import TransformerBackbone, make_backbone
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_generate import SLED_ENERGY
from seqlab.papers.claims_generate_sled2 import CLAIMS as SLED2

NET = {"backbone": "transformer", "n_layers": 2, "n_heads": 2}


def _sled(seed=0):
    torch.manual_seed(seed)
    return SLED(3, hidden=16, noise_dim=4, **NET).eval()


def _rvq(seed=0):
    torch.manual_seed(seed)
    model = RVQTokenAR(3, hidden=16, codebook_size=4, levels=2, seed=seed, **NET)
    data = sinusoid_trajectories(16, 12, channels=3, seed=seed)
    model.fit_quantizer(data, steps=10, generator=torch.Generator().manual_seed(seed))
    return model.eval(), data


def test_backbone_is_a_causal_attention_sequence_model():
    bb = make_backbone("transformer", 3, 16, n_layers=2, n_heads=2)
    assert isinstance(bb, TransformerBackbone)
    assert bb.net.mixer_names == ["attention", "attention"]
    assert all(b.mixer.causal and b.mixer.n_heads == 2 for b in bb.net.blocks)


@pytest.mark.parametrize("t", [0, 4, 9])
def test_sled_output_at_t_ignores_inputs_after_t(t):
    model = _sled()
    x = torch.randn(2, 12, 3)
    y = x.clone()
    y[:, t + 1 :] = torch.randn(2, 11 - t, 3) * 5  # change every frame after t
    with torch.no_grad():
        hx, hy = model.backbone.features(x), model.backbone.features(y)
        # the head's draws given the same noise: predictive frame i predicts frame i + 1 from frames <= i
        dx = model.predictive(x, 3, torch.Generator().manual_seed(1))
        dy = model.predictive(y, 3, torch.Generator().manual_seed(1))
    assert torch.allclose(hx[:, : t + 1], hy[:, : t + 1], atol=1e-5)
    assert not torch.allclose(hx[:, t + 1 :], hy[:, t + 1 :], atol=1e-3)  # later outputs do see them
    assert torch.allclose(dx[:, :, : t + 1], dy[:, :, : t + 1], atol=1e-5)


def test_rvq_logits_at_t_ignore_codes_after_t():
    model, data = _rvq()
    x, t = data[:2], 5
    y = x.clone()
    y[:, t + 1 :] = -x[:, t + 1 :] + 3.0
    with torch.no_grad():
        hx = model.backbone.features(model._embed(model.quantizer.encode(x)))
        hy = model.backbone.features(model._embed(model.quantizer.encode(y)))
        lx, ly = model.heads[0](hx), model.heads[0](hy)
    assert torch.allclose(lx[:, : t + 1], ly[:, : t + 1], atol=1e-5)
    assert not torch.allclose(hx[:, t + 1 :], hy[:, t + 1 :], atol=1e-3)


def test_cached_steps_equal_the_parallel_pass():
    bb = make_backbone("transformer", 3, 16, n_layers=2, n_heads=2).eval()
    x = torch.randn(2, 10, 3)
    with torch.no_grad():
        full = bb.features(x)
        h, state = bb(x[:, :4])  # a prefix, then one frame at a time through the KV cache
        parts = [h]
        for i in range(4, 10):
            h, state = bb(x[:, i : i + 1], state)
            parts.append(h)
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)


def test_sled_generate_equals_a_loop_over_the_parallel_pass():
    model = _sled()
    prefix = torch.randn(2, 5, 3)
    out = model.generate(prefix, 4, torch.Generator().manual_seed(3))
    g, seq = torch.Generator().manual_seed(3), prefix
    with torch.no_grad():
        for i in range(4):
            h = model.backbone.features(seq)  # recomputed from scratch, no cache
            frame = model.draw(h[:, -1:], 1, g)[0]
            assert torch.allclose(frame, out[:, i : i + 1], atol=1e-5)
            seq = torch.cat([seq, frame], 1)


def test_rvq_generate_yields_codebook_sums():
    model, data = _rvq()
    gen = model.generate(data[:3, :4], 5, torch.Generator().manual_seed(0))
    c = model.quantizer.centres
    sums = (c[0][:, None] + c[1][None]).reshape(-1, 3)
    gap = (gen.reshape(-1, 1, 3) - sums[None]).pow(2).sum(-1).min(-1).values
    assert gen.shape == (3, 5, 3) and float(gap.max()) < 1e-8


def test_gru_default_unchanged_and_bad_backbones():
    torch.manual_seed(0)
    a = SLED(3, hidden=8)
    torch.manual_seed(0)
    b = SLED(3, hidden=8, backbone="gru", n_layers=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    with pytest.raises(ValueError, match="backbone must be one of"):
        SLED(3, backbone="lstm")
    with pytest.raises(ValueError, match="backbone must be one of"):
        RVQTokenAR(3, backbone="mamba")
    with pytest.raises(ValueError, match="n_heads dividing hidden=16"):
        SLED(3, hidden=16, backbone="transformer", n_heads=3)
    with pytest.raises(ValueError, match="n_layers"):
        SLED(3, backbone="transformer", n_layers=0)


def _row(sled, rvq=0.3, copy=0.45, mean=1.2):
    return {
        "sled": {
            "energy_sled": sled,
            "energy_rvq": rvq,
            "energy_copy_last": copy,
            "energy_mean": mean,
            "rvq_recon_mse": 0.01,
            "params_sled": 100,
            "params_rvq": 110,
        }
    }


def _judge(sled, jitter=0.01, **kw):
    c = SLED2["sled_energy_transformer"]
    return c.judge({s: _row(sled * (1 + jitter * (i - 1)), **kw) for i, s in enumerate(c.seeds)}).status


def test_claim_is_sled_energy_on_the_transformer():
    c = CLAIMS["sled_energy_transformer"]
    assert c is SLED2["sled_energy_transformer"]
    (cell,) = c.make_runs(0).values()
    assert cell.experiment == "generate.sled_vs_rvq"
    assert cell.params["backbone"] == "transformer"
    (old,) = SLED_ENERGY.make_runs(0).values()
    assert {
        k: v for k, v in cell.params.items() if k not in ("backbone", "n_layers", "n_heads")
    } == old.params
    assert (c.threshold, c.null, c.control.target) == (SLED_ENERGY.threshold, SLED_ENERGY.null, 0.5)


def test_criterion_trivial_rows_never_pass():
    assert _judge(0.3) != "passed"  # SLED equal to RVQ
    assert _judge(0.45, copy=0.45) != "passed"  # SLED is copy-last (and worse than RVQ)
    assert _judge(0.29) != "passed"  # a gain below 5%
    assert _judge(0.2, mean=0.3) == "inconclusive"  # control missed: SLED close to predict-mean
    assert _judge(0.2, jitter=0.6) == "inconclusive"  # too wide
    assert _judge(0.2) == "passed"
    assert _judge(0.4) == "failed"
