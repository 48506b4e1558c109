"""Experiment cells of ``seqlab.generate`` (claims in :mod:`seqlab.papers.claims_generate`).

``generate.keyframe_drift``: KeyFace's two stages vs direct autoregression on sinusoid trajectories;
MSE of the last ``length`` generated frames after ``1x, 2x, 4x, 8x`` the training length.
``generate.flow_inversion``: MelodyFlow's flow matching, naive vs fixed-point inversion, reconstruction MSE.
``generate.flow_editing``: MelodyFlow's editing with a known answer: condition 1 is condition 0's content
shifted by a fixed offset ``o``, so the straight-path flow of condition 1 is that of condition 0 moved by
``t o`` and the ideal edit of a condition-0 source is ``source + o``; edit error = MSE to it, for naive,
fixed-point and noise-regularised inversion.
``generate.sled_vs_rvq``: SLED's energy-distance model vs the RVQ-token model of the same backbone,
scored by the energy score of their next-frame predictive samples on held-out noisy trajectories; both
on the same causal backbone, params ``backbone`` ("gru", default, or "transformer"), ``n_layers`` and
``n_heads``.
"""

from __future__ import annotations

import torch

from seqlab.experiments.cell import experiment
from seqlab.generate.autoencoder import FrameAutoencoder, tone_waveforms
from seqlab.generate.data import sinusoid_trajectories
from seqlab.generate.energy import SLED, energy_distance_loss
from seqlab.generate.flow import (
    FlowTransformer,
    euler_sample,
    flow_matching_loss,
    invert_fixed_point,
    invert_naive,
    invert_regularised,
)
from seqlab.generate.keyframe import DirectAR, KeyframeInterpolator
from seqlab.generate.rvq_ar import RVQTokenAR


def train(model, data: torch.Tensor, steps: int, batch: int, lr: float, seed: int, loss_fn=None) -> float:
    """Adam on random mini-batches of ``data``; returns the last loss."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss_fn = loss_fn or model.loss
    last = float("nan")
    for _ in range(steps):
        idx = torch.randint(data.shape[0], (batch,), generator=g)
        loss = loss_fn(data[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = float(loss.detach())
    return last


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@experiment("generate.keyframe_drift")
def keyframe_drift(params: dict, seed: int) -> dict:
    dim, k = params.get("dim", 3), params.get("k", 4)
    length, prefix = params.get("length", 32), params.get("prefix", 17)
    hidden, steps = params.get("hidden", 48), params.get("steps", 300)
    mults = tuple(params.get("mults", (1, 2, 4, 8)))
    torch.manual_seed(seed)
    kw = {"channels": dim, "n_freqs": params.get("n_freqs", 2), "freq_seed": seed}
    data = sinusoid_trajectories(params.get("n_train", 256), prefix + length, seed=seed, **kw)
    test = sinusoid_trajectories(
        params.get("n_test", 64), prefix + max(mults) * length, seed=seed + 7919, **kw
    )
    horizon = max(mults) * length
    direct = DirectAR(dim, hidden, horizon=horizon)
    two = KeyframeInterpolator(dim, k, hidden, horizon=horizon)
    train(direct, data, steps, 32, 3e-3, seed)
    train(two, data, steps, 32, 3e-3, seed)
    ctx, future = test[:, :prefix], test[:, prefix:]
    mean = data.mean((0, 1))
    out = {"params_direct": _params(direct), "params_keyframe": _params(two)}
    for m in mults:
        n = m * length
        truth = future[:, n - length : n]
        gen_d = direct.generate(ctx, n)[:, n - length :]
        gen_k = two.generate(ctx, n)[:, n - length :]
        out[f"direct_{m}x"] = float((gen_d - truth).pow(2).mean())
        out[f"keyframe_{m}x"] = float((gen_k - truth).pow(2).mean())
        out[f"mean_{m}x"] = float((mean - truth).pow(2).mean())
        out[f"copy_last_{m}x"] = float((ctx[:, -1:] - truth).pow(2).mean())
    return out


def _sled_vs_rvq_on(data: torch.Tensor, test: torch.Tensor, params: dict, seed: int) -> dict:
    """Train SLED and the same-size RVQ-token AR on latent sequences ``data``; energy scores on ``test``."""
    dim, hidden, steps = data.shape[-1], params.get("hidden", 48), params.get("steps", 300)
    m = params.get("draws", 8)
    net = {k: params[k] for k in ("backbone", "n_layers", "n_heads") if k in params}  # default: 1-layer GRU
    sled = SLED(dim, hidden, n_samples=2, **net)
    rvq = RVQTokenAR(dim, hidden, params.get("codebook_size", 32), params.get("levels", 2), seed=seed, **net)
    rvq.fit_quantizer(data, generator=torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed)
    train(sled, data, steps, 32, 3e-3, seed, loss_fn=lambda x: sled.loss(x, g))
    train(rvq, data, steps, 32, 3e-3, seed)
    target = test[:, 1:]
    ge = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        es_sled = float(energy_distance_loss(sled.predictive(test, m, ge), target))
        es_rvq = float(energy_distance_loss(rvq.predictive(test, m, ge), target))
        prev = test[:, :-1]
        copy_last = float((prev - target).pow(2).sum(-1).sqrt().mean())  # point mass: score = ||x - y||
        mean = float((data.mean((0, 1)) - target).pow(2).sum(-1).sqrt().mean())
        recon = float((rvq.quantizer.decode(rvq.quantizer.encode(test)) - test).pow(2).mean())
    return {
        "energy_sled": es_sled,
        "energy_rvq": es_rvq,
        "energy_copy_last": copy_last,
        "energy_mean": mean,
        "rvq_recon_mse": recon,
        "params_sled": _params(sled),
        "params_rvq": _params(rvq) - rvq.quantizer.centres.numel(),
    }


@experiment("generate.sled_vs_rvq")
def sled_vs_rvq(params: dict, seed: int) -> dict:
    dim, length, noise = params.get("dim", 3), params.get("length", 32), params.get("noise", 0.1)
    torch.manual_seed(seed)
    kw = {"channels": dim, "n_freqs": params.get("n_freqs", 2), "freq_seed": seed, "noise": noise}
    data = sinusoid_trajectories(params.get("n_train", 256), length, seed=seed, **kw)
    test = sinusoid_trajectories(params.get("n_test", 64), length, seed=seed + 7919, **kw)
    return _sled_vs_rvq_on(data, test, params, seed)


@experiment("generate.sled_vs_rvq_autoencoder")
def sled_vs_rvq_autoencoder(params: dict, seed: int) -> dict:
    """SLED vs RVQ-token AR on the latents of a frame autoencoder trained here on generated tones."""
    frames, hop, latent = params.get("length", 32), params.get("hop", 16), params.get("dim", 3)
    torch.manual_seed(seed)
    waves = tone_waveforms(params.get("n_train", 256), frames, hop, seed=seed)
    test_waves = tone_waveforms(params.get("n_test", 64), frames, hop, seed=seed + 7919)
    ae = FrameAutoencoder(hop, latent, params.get("ae_width", 64))
    train(ae, waves, params.get("ae_steps", 400), 32, 3e-3, seed)
    with torch.no_grad():
        ae_mse = float(ae.loss(test_waves)) / float(test_waves.var())
        z, z_test = ae.encode(waves), ae.encode(test_waves)
    mu, sd = z.mean((0, 1)), z.std((0, 1)).clamp_min(1e-6)
    out = _sled_vs_rvq_on((z - mu) / sd, (z_test - mu) / sd, params, seed)
    out["ae_recon_mse"] = ae_mse  # autoencoder reconstruction MSE / waveform variance (held out)
    return out


@experiment("generate.flow_inversion")
def flow_inversion(params: dict, seed: int) -> dict:
    """MelodyFlow: invert held-out latents under their condition and regenerate them (editing fidelity at
    no edit), naive vs fixed-point inversion; then regenerate under the other condition (an edit)."""
    dim, length, steps = params.get("dim", 3), params.get("length", 16), params.get("steps", 300)
    ode_steps, iters = params.get("ode_steps", 10), params.get("iters", 4)
    torch.manual_seed(seed)
    sets = []
    for c in range(2):  # two conditions: two frequency sets (the stand-in for two text prompts)
        kw = {"channels": dim, "n_freqs": 2, "freq_seed": 2 * seed + c}
        sets.append(
            (
                sinusoid_trajectories(params.get("n_train", 256), length, seed=seed + 100 * c, **kw),
                sinusoid_trajectories(params.get("n_test", 32), length, seed=seed + 100 * c + 7919, **kw),
            )
        )
    model = FlowTransformer(dim, params.get("d_model", 32), 2, params.get("layers", 2), 2, max_len=length)
    g = torch.Generator().manual_seed(seed)
    data = torch.cat([s[0] for s in sets])
    labels = torch.cat([torch.full((s[0].shape[0],), c) for c, s in enumerate(sets)])
    opt = torch.optim.Adam(model.parameters(), lr=params.get("lr", 2e-3))
    for _ in range(steps):
        idx = torch.randint(data.shape[0], (32,), generator=g)
        loss = model.loss(data[idx], labels[idx], g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = sets[0][1]
    with torch.no_grad():
        gl = torch.Generator().manual_seed(seed + 1)
        fm = float(flow_matching_loss(model, test, 0, gl))
        gz = torch.Generator().manual_seed(seed + 1)
        zero = float(flow_matching_loss(lambda x, t, c: torch.zeros_like(x), test, 0, gz))
        z_naive = invert_naive(model, test, 0, ode_steps)
        z_fixed = invert_fixed_point(model, test, 0, ode_steps, iters=iters, average=2)
        fresh = euler_sample(model, torch.randn(test.shape, generator=gl), 0, ode_steps)

        def mse(a, b):
            return float((a - b).pow(2).mean())

        return {
            "fm_loss": fm,
            "fm_loss_zero_velocity": zero,
            "recon_naive": mse(euler_sample(model, z_naive, 0, ode_steps), test),
            "recon_fixed": mse(euler_sample(model, z_fixed, 0, ode_steps), test),
            "recon_fresh": mse(fresh, test),
            "recon_mean": mse(data[labels == 0].mean((0, 1)), test),
            "edit_naive": mse(euler_sample(model, z_naive, 1, ode_steps), test),
            "edit_fixed": mse(euler_sample(model, z_fixed, 1, ode_steps), test),
            "noise_std_naive": float(z_naive.std()),
            "noise_std_fixed": float(z_fixed.std()),
        }


def _lag1(z: torch.Tensor) -> float:
    c = z - z.mean(1, keepdim=True)
    return float(((c[:, :-1] * c[:, 1:]).mean(1) / c.pow(2).mean(1).clamp_min(1e-12)).mean())


@experiment("generate.flow_editing")
def flow_editing(params: dict, seed: int) -> dict:
    """Edit condition-0 latents into condition 1 (content + offset) by invert -> regenerate; MSE to the ideal
    edit ``source + offset`` for naive, fixed-point and regularised inversion, with the trivial answers."""
    dim, length, steps = params.get("dim", 3), params.get("length", 16), params.get("steps", 600)
    ode_steps, iters = params.get("ode_steps", 10), params.get("iters", 4)
    torch.manual_seed(seed)
    kw = {"channels": dim, "n_freqs": 2, "freq_seed": seed}
    content = sinusoid_trajectories(params.get("n_train", 512), length, seed=seed, **kw)
    test = sinusoid_trajectories(params.get("n_test", 64), length, seed=seed + 7919, **kw)
    offset = params.get("offset", 1.5) * torch.tensor([(-1.0) ** c for c in range(dim)])
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(content.shape[0], generator=g) < 0.5).long()
    data = content + labels[:, None, None] * offset
    model = FlowTransformer(dim, params.get("d_model", 32), 2, params.get("layers", 2), 2, max_len=length)
    opt = torch.optim.Adam(model.parameters(), lr=params.get("lr", 2e-3))
    for _ in range(steps):
        idx = torch.randint(data.shape[0], (32,), generator=g)
        loss = model.loss(data[idx], labels[idx], g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    target = test + offset
    out = {}
    with torch.no_grad():
        gs = torch.Generator().manual_seed(seed + 1)
        noise = torch.randn(test.shape, generator=gs)
        fresh = [euler_sample(model, noise, c, ode_steps) for c in (0, 1)]
        # control: fresh samples carry their condition (nearest class mean of the time-averaged frames)
        means = torch.stack([data[labels == c].mean((0, 1)) for c in (0, 1)])
        hits = [((f.mean(1)[:, None] - means[None]).pow(2).sum(-1).argmin(1) == c).float().mean() for c, f in
                enumerate(fresh)]
        out["condition_accuracy"] = float(sum(hits) / 2)

        def mse(a, b):
            return float((a - b).pow(2).mean())

        inverted = {
            "naive": invert_naive(model, test, 0, ode_steps),
            "fixed": invert_fixed_point(model, test, 0, ode_steps, iters=iters, average=2),
            "reg": invert_regularised(model, test, 0, ode_steps, iters=iters, average=2,
                                      weight=params.get("reg_weight", 0.1)),
        }
        for name, z in inverted.items():
            out[f"edit_{name}"] = mse(euler_sample(model, z, 1, ode_steps), target)
            out[f"recon_{name}"] = mse(euler_sample(model, z, 0, ode_steps), test)
            out[f"noise_std_{name}"] = float(z.std())
            out[f"noise_lag1_{name}"] = _lag1(z)
        out["edit_none"] = mse(test, target)  # return the source unchanged
        out["edit_fresh"] = mse(fresh[1], target)  # ignore the source, sample the target condition
        out["edit_mean"] = mse(data[labels == 1].mean(0, keepdim=True).expand_as(target), target)
    return out
