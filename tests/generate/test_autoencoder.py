"""The frame autoencoder that produces SLED's latents: shapes, locality of the encoder, training, errors."""

from __future__ import annotations

import pytest
import torch

from seqlab.generate.autoencoder import FrameAutoencoder, tone_waveforms


def test_waveforms_are_seeded_and_shaped():
    a, b = tone_waveforms(4, 10, hop=8, seed=3), tone_waveforms(4, 10, hop=8, seed=3)
    assert a.shape == (4, 80) and torch.equal(a, b)
    assert not torch.equal(a, tone_waveforms(4, 10, hop=8, seed=4))
    with pytest.raises(ValueError, match="hop"):
        tone_waveforms(4, 10, hop=0)


def test_each_latent_frame_sees_its_frame_and_neighbours_only():
    torch.manual_seed(0)
    ae = FrameAutoencoder(hop=8, latent=3).double()
    wave = torch.randn(2, 8 * 20, dtype=torch.double)
    z = ae.encode(wave)
    assert z.shape == (2, 20, 3)
    bumped = wave.clone()
    bumped[:, 8 * 10 : 8 * 11] += 1.0  # frame 10 only
    changed = (ae.encode(bumped) - z).abs().amax((0, 2)) > 1e-12
    assert changed.nonzero().flatten().tolist() == [9, 10, 11]
    assert ae.decode(z).shape == wave.shape


def test_training_reduces_reconstruction_error():
    torch.manual_seed(0)
    waves = tone_waveforms(64, 16, hop=8, seed=0)
    ae = FrameAutoencoder(hop=8, latent=4, width=32)
    opt = torch.optim.Adam(ae.parameters(), lr=3e-3)
    first = float(ae.loss(waves).detach())
    for _ in range(150):
        loss = ae.loss(waves)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(ae.loss(waves).detach()) < 0.5 * first


def test_bad_input():
    ae = FrameAutoencoder(hop=8)
    with pytest.raises(ValueError, match="T \\* 8"):
        ae.encode(torch.zeros(2, 30))
    with pytest.raises(ValueError, match="NaN"):
        ae.encode(torch.full((1, 16), float("nan")))
