import pytest
import torch

from seqlab.registry import create


def test_linear_trajectories_follow_a_stable_linear_map():
    task = create("task", "dynamics", state_dim=3, seq_len=40, noise=0.0, rho_min=0.7, rho_max=0.9)
    b = task.sample(4, seed=0)
    x, y = b["inputs"].double(), b["targets"].double()
    assert torch.equal(b["inputs"][:, 1:], b["targets"][:, :-1])
    for i in range(4):
        At = torch.linalg.lstsq(x[i], y[i]).solution  # y = x A^T
        assert torch.allclose(x[i] @ At, y[i], atol=1e-4)
        rho = torch.linalg.eigvals(At.T).abs().max().item()
        assert 0.69 < rho < 0.91


def test_pendulum_obeys_its_update():
    task = create("task", "dynamics", system="pendulum", state_dim=2, seq_len=30, noise=0.0, dt=0.1)
    b = task.sample(3, seed=1)
    th, w = b["inputs"][..., 0].double(), b["inputs"][..., 1].double()
    th1, w1 = b["targets"][..., 0].double(), b["targets"][..., 1].double()
    assert torch.allclose(th1, th + 0.1 * w1, atol=1e-5)
    for i in range(3):  # dw = -dt (k sin th + c w): linear in (sin th, w), exact fit
        X = torch.stack([torch.sin(th[i]), w[i]], -1)
        coef = torch.linalg.lstsq(X, (w1[i] - w[i]).unsqueeze(-1)).solution
        assert torch.allclose(X @ coef, (w1[i] - w[i]).unsqueeze(-1), atol=1e-5)
        k, c = (-coef.flatten() / 0.1).tolist()
        assert 0.5 <= k <= 2.0 and 0.0 <= c <= 0.2


def test_copy_last_baseline():
    task = create("task", "dynamics")
    b = task.sample(8, seed=0)
    assert task.copy_last_mse(b) == pytest.approx(((b["inputs"] - b["targets"]) ** 2).mean().item(), rel=1e-6)
    assert task.copy_last_mse(b) > 10 * task.noise**2  # room for an in-context learner to beat it


@pytest.mark.parametrize(
    "cfg, msg",
    [
        (dict(system="lorenz"), "system must be"),
        (dict(system="pendulum", state_dim=3), "state_dim=2"),
        (dict(rho_max=1.0), "rho_max < 1"),
        (dict(noise=-1.0), "noise >= 0"),
    ],
)
def test_constraints(cfg, msg):
    with pytest.raises(ValueError, match=msg):
        create("task", "dynamics", **cfg)


def test_predict_zero_and_least_squares_baselines():
    task = create("task", "dynamics", state_dim=3, seq_len=64, noise=0.05)
    b = task.sample(32, seed=1)
    zero = task.predict_zero_mse(b)
    assert zero == pytest.approx((b["targets"] ** 2).mean().item(), rel=1e-6)
    ls = task.least_squares_mse(b)
    # in-context least squares beats both trivial predictors and ends near the noise floor
    assert ls < 0.5 * min(zero, task.copy_last_mse(b))
    pred = task.least_squares_predictions(b["inputs"])
    late = ((pred - b["targets"]) ** 2)[:, 40:].mean().item()
    assert late < 4 * task.noise**2


def test_least_squares_is_causal_and_exact_on_noiseless_systems():
    task = create("task", "dynamics", state_dim=2, seq_len=30, noise=0.0)
    b = task.sample(4, seed=3)
    pred = task.least_squares_predictions(b["inputs"].double(), ridge=1e-9)
    assert torch.allclose(pred[:, 0], torch.zeros_like(pred[:, 0]))  # nothing seen yet
    assert torch.allclose(pred[:, 5:], b["targets"][:, 5:].double(), atol=1e-4)
    changed = b["inputs"].clone()
    changed[:, 20:] += 1.0  # the future must not move earlier predictions
    pred2 = task.least_squares_predictions(changed.double(), ridge=1e-9)
    assert torch.allclose(pred[:, :20], pred2[:, :20])
    with pytest.raises(ValueError, match="inputs"):
        task.least_squares_predictions(b["inputs"][0])


def test_system_seed_fixes_one_linear_system():
    task = create("task", "dynamics", state_dim=3, seq_len=20, noise=0.0, system_seed=7)
    a, b = task.sample(2, seed=0), task.sample(3, seed=5)
    x = torch.cat([a["inputs"], b["inputs"]]).double()
    y = torch.cat([a["targets"], b["targets"]]).double()
    # one A maps every state of every trajectory to its successor
    A = torch.linalg.lstsq(x.reshape(-1, 3), y.reshape(-1, 3)).solution.T
    assert torch.allclose(x @ A.T, y, atol=1e-4)
    free = create("task", "dynamics", state_dim=3, seq_len=20, noise=0.0).sample(5, seed=0)
    fx, fy = free["inputs"].double().reshape(-1, 3), free["targets"].double().reshape(-1, 3)
    B = torch.linalg.lstsq(fx, fy).solution
    assert not torch.allclose(fx @ B, fy, atol=1e-2)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="system_seed"):
            create("task", "dynamics", system_seed=bad)
