"""Experiment cells of ``seqlab.timeseries`` (claims in :mod:`seqlab.papers.claims_timeseries`).

``timeseries.generation``: LS4 and the GRU-VAE (same latent model, same width, same steps) trained
on windows of one data set (``oscillator``: generated, or an offline statsmodels series), then
scored on held-out windows: the generation metrics of :mod:`seqlab.timeseries.metrics` for
samples of each model and of two trivial generators (``shuffle``: real values permuted across
time and series, the right marginal and no temporal structure; ``ar``: a Gaussian AR(p) fitted
by least squares), the teacher-forced reconstruction error, interpolation error at randomly
masked points, and extrapolation error of the last ``horizon`` steps.
"""

from __future__ import annotations

import time

import torch

from seqlab.experiments.cell import experiment
from seqlab.timeseries.data import load_series, oscillator_series, standardize, windows
from seqlab.timeseries.ls4 import GRUVAE, LS4
from seqlab.timeseries.metrics import acf_discrepancy, discriminative_score, marginal_discrepancy

MODELS = {"ls4": LS4, "gru_vae": GRUVAE}


def fit_ar(train: torch.Tensor, p: int):
    """Least-squares AR(p) with intercept on every window of ``(n, T, 1)``: ``(coef, intercept, std)``."""
    x = train[..., 0].double()
    rows = torch.stack([x[:, i : x.shape[1] - p + i] for i in range(p)], -1).reshape(-1, p)
    target = x[:, p:].reshape(-1)
    design = torch.cat([rows, torch.ones(rows.shape[0], 1, dtype=rows.dtype)], 1)
    sol = torch.linalg.lstsq(design, target[:, None]).solution[:, 0]
    resid = target - design @ sol
    return sol[:p], float(sol[p]), float(resid.std())


def sample_ar(coef: torch.Tensor, intercept: float, std: float, n: int, length: int, g, burn: int = 100):
    p = coef.shape[0]
    buf = torch.zeros(n, p, dtype=torch.float64)
    out = []
    for t in range(burn + length):
        nxt = buf @ coef + intercept + std * torch.randn(n, generator=g, dtype=torch.float64)
        buf = torch.cat([buf[:, 1:], nxt[:, None]], 1)
        if t >= burn:
            out.append(nxt)
    return torch.stack(out, 1).float()[..., None]


def load_windows(params: dict, seed: int):
    """Standardised ``(train, test)`` windows of the configured data set."""
    length = params.get("length", 48)
    if params.get("data", "oscillator") == "oscillator":
        train = oscillator_series(params.get("n_train", 512), length, seed=seed)
        test = oscillator_series(params.get("n_test", 256), length, seed=seed + 7919)
    else:
        values, stamps = load_series(params["data"], fill=params.get("fill"))
        all_w = windows(values, length, params.get("stride", 1), timestamps=stamps)
        cut = int(all_w.shape[0] * 0.7)  # time-ordered split: test windows come after train windows
        train, test = all_w[:cut], all_w[cut + length:]
    return standardize(train, test)


def _train(model, data: torch.Tensor, params: dict, seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=params.get("lr", 3e-3))
    rate, batch = params.get("mask_rate", 0.2), params.get("batch", 32)
    for _ in range(params.get("steps", 400)):
        x = data[torch.randint(data.shape[0], (batch,), generator=g)]
        mask = (torch.rand(x.shape, generator=g) >= rate).float()
        loss = model.loss(x, mask)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return float(loss.detach())


def _quality(test: torch.Tensor, fake: torch.Tensor, seed: int, params: dict) -> dict:
    return {
        "marginal": marginal_discrepancy(test, fake),
        "acf": acf_discrepancy(test, fake, params.get("max_lag", 10)),
        "disc": discriminative_score(test, fake, seed=seed, steps=params.get("disc_steps", 300)),
    }


@experiment("timeseries.generation")
def generation(params: dict, seed: int) -> dict:
    torch.manual_seed(seed)
    train, test = load_windows(params, seed)
    length, horizon = train.shape[1], params.get("horizon", 12)
    g = torch.Generator().manual_seed(seed + 1)
    out: dict = {"n_train": int(train.shape[0]), "n_test": int(test.shape[0]), "variance": float(test.var())}
    for name, cls in MODELS.items():
        t0 = time.process_time()
        model = cls(channels=train.shape[-1], latent=params.get("latent", 4), hidden=params.get("hidden", 32),
                    layers=params.get("layers", 2), seed=seed)
        out[f"{name}_loss"] = _train(model, train, params, seed)
        model.eval()
        fake = model.sample(test.shape[0], length, generator=g)
        out.update({f"{name}_{k}": v for k, v in _quality(test, fake, seed, params).items()})
        var = float(test.var())
        out[f"{name}_recon"] = float(((model.reconstruct(test) - test) ** 2).mean()) / var
        mask = (torch.rand(test.shape, generator=g) >= params.get("mask_rate", 0.2)).float()
        interp = model.reconstruct(test, mask)
        out[f"{name}_interp"] = float((((interp - test) ** 2) * (1 - mask)).sum() / (1 - mask).sum()) / var
        pred = model.extrapolate(test[:, : length - horizon], horizon)
        out[f"{name}_extrap"] = float(((pred - test[:, length - horizon:]) ** 2).mean()) / var
        out[f"{name}_cpu_s"] = time.process_time() - t0
    flat = test.reshape(-1)
    shuffled = flat[torch.randperm(flat.numel(), generator=g)].reshape(test.shape)
    out.update({f"shuffle_{k}": v for k, v in _quality(test, shuffled, seed, params).items()})
    coef, icpt, std = fit_ar(train, params.get("ar_order", 4))
    ar = sample_ar(coef, icpt, std, test.shape[0], length, g)
    out.update({f"ar_{k}": v for k, v in _quality(test, ar, seed, params).items()})
    return out
