import pytest
import torch

from seqlab.models import SequenceModel
from seqlab.registry import entries

RECURRENT = [e.name for e in entries("mixer") if {"chunked", "step"} <= set(e.obj.modes)]


def _model(mixer, **kw):
    torch.manual_seed(0)
    return SequenceModel(mixer=mixer, d_model=16, n_layers=2, vocab_size=11, **kw).eval()


@pytest.mark.parametrize("mixer", RECURRENT)
def test_model_modes_agree(mixer):
    m = _model(mixer)
    tokens = torch.randint(0, 11, (2, 23), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = m(tokens)
        a, s = m.forward_with_state(tokens[:, :9])
        b, _ = m.forward_with_state(tokens[:, 9:], s)
        torch.testing.assert_close(torch.cat([a, b], 1), full, atol=2e-4, rtol=2e-4)
        state, outs = None, []
        for t in range(tokens.shape[1]):
            y, state = m.step(tokens[:, t], state)
            outs.append(y)
        torch.testing.assert_close(torch.stack(outs, 1), full, atol=2e-4, rtol=2e-4)


def test_continuous_inputs_and_heads():
    m = SequenceModel(mixer=RECURRENT[0], d_model=16, n_layers=1, d_input=3, n_outputs=5)
    assert m(torch.randn(4, 7, 3)).shape == (4, 7, 5)


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.randn(2, 5), "integer tokens"),
        (torch.randint(0, 11, (2, 0)), "non-empty"),
        (torch.full((2, 5), 11), r"\[0, 11\)"),
    ],
)
def test_bad_token_input(bad, match):
    with pytest.raises(ValueError, match=match):
        _model(RECURRENT[0])(bad)


def test_needs_exactly_one_input_kind():
    with pytest.raises(ValueError, match="exactly one"):
        SequenceModel(mixer=RECURRENT[0], d_model=16, vocab_size=5, d_input=3)


def test_randomized_positions_sorted_subset_in_training_arange_in_eval():
    m = SequenceModel(mixer=RECURRENT[0], d_model=16, n_layers=1, vocab_size=5, randomized_positions=100)
    m.train()
    pos = m.make_positions(8, 20, "cpu")
    assert pos.shape == (8, 20) and (pos.diff(dim=1) > 0).all() and pos.max() < 100
    assert not torch.equal(pos[0], torch.arange(20))
    m.eval()
    assert torch.equal(m.make_positions(2, 20, "cpu")[1], torch.arange(20))
    with pytest.raises(ValueError, match="exceeds randomized position range"):
        m.train().make_positions(1, 101, "cpu")


def test_reset_state_clears_only_done_sequences():
    m = _model(RECURRENT[0])
    tokens = torch.randint(0, 11, (2, 6), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        _, s = m.forward_with_state(tokens[:, :4])
        s = m.reset_state(s, torch.tensor([True, False]))
        y, _ = m.step(tokens[:, 4], s)
        fresh = m.init_state(2)
        fresh["t"] = s["t"]
        y0, _ = m.step(tokens[:, 4], fresh)
    torch.testing.assert_close(y[0], y0[0])
    assert not torch.allclose(y[1], y0[1])
