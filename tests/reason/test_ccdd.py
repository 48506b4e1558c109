"""CCDD (arXiv 2510.03206): the two forward processes against their formulas, the sampler, the cell."""

import math

import pytest
import torch

from seqlab.experiments.cell import get_experiment
from seqlab.reason.ccdd import CCDD, alpha_bar, mask_tokens, noise_codes
from seqlab.registry import create


def test_masking_follows_its_formula_and_its_rate():
    x = torch.arange(12).reshape(2, 6)
    u = torch.tensor([[0.1, 0.5, 0.9, 0.3, 0.7, 0.2], [0.0, 1.0, 0.4, 0.6, 0.8, 0.25]])
    t = torch.tensor([0.4, 0.5])
    got = mask_tokens(x, t, 99, u)
    for i in range(2):
        for j in range(6):
            assert got[i, j] == (99 if u[i, j] < t[i] else x[i, j])
    big = torch.zeros(4, 20000, dtype=torch.long)
    frac = (
        (mask_tokens(big, torch.tensor([0.0, 0.25, 0.7, 1.0]), 5, torch.rand(4, 20000)) == 5).float().mean(1)
    )
    assert frac[0] == 0 and frac[3] == 1
    assert abs(float(frac[1]) - 0.25) < 0.02 and abs(float(frac[2]) - 0.7) < 0.02


def test_gaussian_noising_follows_its_formula_and_moments():
    assert float(alpha_bar(torch.tensor(0.0))) == 1.0 and float(alpha_bar(torch.tensor(1.0))) < 1e-12
    assert float(alpha_bar(torch.tensor(0.5))) == pytest.approx(0.5)
    e, eps, t = torch.randn(3, 4, 5), torch.randn(3, 4, 5), torch.tensor([0.0, 0.3, 1.0])
    z = noise_codes(e, t, eps)
    for i, ti in enumerate(t.tolist()):
        ab = math.cos(math.pi * ti / 2) ** 2
        assert torch.allclose(z[i], math.sqrt(ab) * e[i] + math.sqrt(1 - ab) * eps[i], atol=1e-6)
    e1 = torch.full((1, 40000, 1), 2.0)
    zz = noise_codes(e1, torch.tensor([0.5]), torch.randn(1, 40000, 1))
    assert abs(float(zz.mean()) - 2 * math.sqrt(0.5)) < 0.02 and abs(float(zz.var()) - 0.5) < 0.02


class Oracle(CCDD):
    """A perfect denoiser: one-hot logits of the true tokens and their true codes."""

    truth = None

    def denoise(self, question, x_t, z_t, t):
        logits = torch.nn.functional.one_hot(self.truth, self.mask_id).float() * 10
        return logits, self.codes[self.truth]


def test_the_sampler_reveals_everything_and_recovers_a_perfect_denoisers_answer():
    m = Oracle(7, 4, d_model=8, n_heads=2)
    m.truth = torch.tensor([[1, 2, 3, 4], [6, 5, 0, 2]])
    for steps in (1, 3, 4):
        x, z = m.sample(
            torch.zeros(2, 3, dtype=torch.long), steps, generator=torch.Generator().manual_seed(0)
        )
        assert (x == m.truth).all() and (x != m.mask_id).all()
        assert torch.allclose(z, m.codes[m.truth], atol=1e-5)  # DDIM with the clean code lands on it


class Flipper(CCDD):
    """Its argmax changes at every call; it records the tokens it is shown."""

    seen = None

    def denoise(self, question, x_t, z_t, t):
        self.seen.append(x_t.clone())
        tok = len(self.seen) % self.mask_id
        return torch.nn.functional.one_hot(torch.full_like(x_t, tok), self.mask_id).float(), z_t


def test_revealed_tokens_are_never_changed_again():
    m = Flipper(7, 6, d_model=8, n_heads=2, mode="discrete")
    m.seen = []
    x, _ = m.sample(torch.zeros(3, 2, dtype=torch.long), 6, generator=torch.Generator().manual_seed(1))
    assert (x < 7).all() and len(m.seen) == 6 and (m.seen[0] == 7).all()
    shown = m.seen[1:] + [x]
    for before, after in zip(m.seen, shown):
        kept = before != 7
        assert (after[kept] == before[kept]).all()
    assert len(set(x.flatten().tolist())) > 1  # revealed at different steps, so different values


def test_losses_and_modes():
    task = create("task", "subset_sum", n_numbers=3, max_value=4)
    batch = task.sample(8, seed=0)
    torch.manual_seed(0)
    joint = CCDD(task.vocab_size, 4, d_model=16, n_heads=2)
    with torch.no_grad():
        out = joint.loss(batch, generator=torch.Generator().manual_seed(0))
    assert float(out["codes"]) > 0 and float(out["total"]) == pytest.approx(
        float(out["tokens"] + out["codes"])
    )
    disc = CCDD(task.vocab_size, 4, d_model=16, n_heads=2, mode="discrete")
    assert float(disc.loss(batch)["codes"]) == 0
    q, x = batch["question"], torch.full((8, 4), task.vocab_size)
    z1, z2 = torch.zeros(8, 4, 16), torch.randn(8, 4, 16)
    t = torch.ones(8)
    assert torch.allclose(disc.denoise(q, x, z1, t)[0], disc.denoise(q, x, z2, t)[0])  # no continuous channel
    assert not torch.allclose(joint.denoise(q, x, z1, t)[0], joint.denoise(q, x, z2, t)[0])
    with pytest.raises(ValueError, match="generated positions"):
        CCDD(task.vocab_size, 3).loss(batch)
    with pytest.raises(ValueError, match="mode"):
        CCDD(5, 3, mode="magic")
    with pytest.raises(ValueError, match="steps"):
        joint.sample(q, 0)


def test_the_ccdd_cell_runs_end_to_end():
    out = get_experiment("reason.ccdd")(
        {
            "task": "subset_sum",
            "task_kw": {"n_numbers": 3, "max_value": 4},
            "mode": "joint",
            "steps": 3,
            "d_model": 16,
            "n_heads": 2,
            "eval_n": 8,
        },
        0,
    )
    assert 0 <= out["trace_accuracy"] <= 1 and 0 <= out["accuracy"] <= 1
    assert {"accuracy", "trace_accuracy", "train_accuracy", "train_loss"} <= set(out)
