"""The RVQ-token AR baseline: per-level cross-entropy against a loop, decoding, bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqlab.generate import RVQTokenAR, sinusoid_trajectories
from seqlab.registry import create


def fitted(seed=0):
    torch.manual_seed(seed)
    model = create("generator", "rvq-ar", dim=2, hidden=8, codebook_size=4, levels=2, seed=seed)
    data = sinusoid_trajectories(16, 8, channels=2, seed=seed)
    model.fit_quantizer(data, steps=10, generator=torch.Generator().manual_seed(seed))
    return model, data


def test_loss_matches_a_loop():
    model, data = fitted()
    codes = model.quantizer.encode(data)
    total = 0.0
    with torch.no_grad():
        h, _ = model.backbone(model._embed(codes[:, :-1]))
        for i in range(2):
            cond = h + sum(model.embed[j](codes[:, 1:, j]) for j in range(i)) if i else h
            total += float(F.cross_entropy(model.heads[i](cond).reshape(-1, 4), codes[:, 1:, i].reshape(-1)))
        assert float(model.loss(data)) == pytest.approx(total, rel=1e-5)


def gap(frames, sums):
    """Distance of every frame to the nearest decodable frame (direct differences, no cdist)."""
    return (frames.reshape(-1, 1, 2) - sums[None]).pow(2).sum(-1).min(-1).values.sqrt()


def test_samples_are_codebook_sums():
    model, data = fitted()
    draws = model.predictive(data, 3, torch.Generator().manual_seed(0))
    assert draws.shape == (3, 16, 7, 2)
    c = model.quantizer.centres
    sums = (c[0][:, None] + c[1][None]).reshape(-1, 2)  # every decodable frame
    assert float(gap(draws, sums).max()) < 1e-5
    gen = model.generate(data[:, :4], 5, torch.Generator().manual_seed(0))
    assert gen.shape == (16, 5, 2)
    assert float(gap(gen, sums).max()) < 1e-5


def test_bad_input():
    model = RVQTokenAR(2, hidden=8, codebook_size=4, levels=2)
    with pytest.raises(ValueError, match="fitted"):
        model.loss(torch.randn(2, 5, 2))
    model, _ = fitted()
    with pytest.raises(ValueError, match="last dimension 2"):
        model.loss(torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match="steps"):
        model.generate(torch.randn(2, 5, 2), -1)
