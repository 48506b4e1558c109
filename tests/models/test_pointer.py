import pytest
import torch
import torch.nn.functional as F

from seqlab.registry import create


def _train(model, task, steps, length):
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(steps):
        b = task.sample(64, seed=step, length=length)
        logits = model(b["inputs"], b["targets"])
        loss = F.cross_entropy(logits.flatten(0, 1), b["targets"].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()


def _accuracy(model, task, length):
    b = task.sample(256, seed=0, split="test", length=length)
    with torch.no_grad():
        pred = model.eval()(b["inputs"]).argmax(-1)
    return (pred == b["targets"]).float().mean().item()


def test_learns_to_sort_five_numbers_and_runs_on_longer_sets():
    torch.manual_seed(0)
    task = create("task", "sorting")
    model = create("model", "pointer_network", d_model=32)
    _train(model, task, steps=300, length=5)
    assert _accuracy(model, task, 5) > 0.97
    assert _accuracy(model, task, 10) > 0.8  # never trained on 10; chance is ~0.1-0.3


def test_greedy_output_is_a_permutation_and_teacher_forcing_shapes():
    torch.manual_seed(0)
    model = create("model", "pointer_network", d_model=16)
    x = torch.rand(3, 7, 1)
    logits = model(x)
    assert logits.shape == (3, 7, 7)
    assert (logits.argmax(-1).sort(-1).values == torch.arange(7)).all()
    t = torch.stack([torch.randperm(7) for _ in range(3)])
    assert model(x, t).shape == (3, 7, 7)


def test_set_encoder_is_permutation_invariant():
    torch.manual_seed(0)
    model = create("model", "pointer_network", d_model=16).eval()
    x = torch.rand(2, 6, 1)
    perm = torch.randperm(6)
    with torch.no_grad():
        a, b = model(x), model(x[:, perm])
    # pointing at the same elements: output logits permute with the inputs
    assert torch.allclose(a[:, :, perm], b, atol=1e-5)


def test_mixer_encoder_runs():
    model = create("model", "pointer_network", d_model=16, mixer="attention", mixer_cfg={"n_heads": 2})
    assert not model.blocks[0].mixer.causal
    assert model(torch.rand(2, 5, 1)).shape == (2, 5, 5)


@pytest.mark.parametrize(
    "x, msg",
    [
        (torch.rand(2, 5), "shape \\(batch, n, 1\\)"),
        (torch.zeros(2, 5, 1, dtype=torch.long), "float inputs"),
        (torch.full((1, 3, 1), float("nan")), "finite"),
        (torch.rand(2, 0, 1), "non-empty"),
    ],
)
def test_bad_inputs(x, msg):
    with pytest.raises(ValueError, match=msg):
        create("model", "pointer_network", d_model=8)(x)


def test_bad_targets():
    model = create("model", "pointer_network", d_model=8)
    with pytest.raises(ValueError, match="input positions"):
        model(torch.rand(2, 4, 1), torch.full((2, 4), 4))


def test_positions_tell_the_encoder_the_input_index():
    torch.manual_seed(0)
    model = create("model", "pointer_network", d_model=16, positions="sinusoidal").eval()
    x = torch.rand(1, 6, 1)
    perm = torch.tensor([1, 0, 2, 3, 4, 5])
    with torch.no_grad():
        a, b = model(x, n_out=1), model(x[:, perm], n_out=1)
        # same points, two orders: without positions the scores would permute with the inputs
        assert not torch.allclose(a[:, :, perm], b, atol=1e-4)
        enc = model.encode(x)
        manual = model.norm(model.embed(x) + model.pos(torch.arange(6)[None]))
    assert torch.allclose(enc, manual)
    with pytest.raises(ValueError, match="additive encoding"):
        create("model", "pointer_network", d_model=16, positions="rope")
