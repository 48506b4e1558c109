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


# -- the model boundary: state structure and layer count ------------------------------------------


def _tokens(b=2, n=6, seed=3):
    return torch.randint(0, 11, (b, n), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mode", ["forward_with_state", "step", "reset_state"])
@pytest.mark.parametrize("n_given", [1, 3])
def test_state_with_wrong_layer_count_names_expected_layers(mode, n_given):
    m = _model(RECURRENT[0])  # 2 layers
    other = SequenceModel(mixer=RECURRENT[0], d_model=16, n_layers=n_given, vocab_size=11).eval()
    with torch.no_grad():
        _, state = other.forward_with_state(_tokens())
        call = {
            "forward_with_state": lambda: m.forward_with_state(_tokens(), state),
            "step": lambda: m.step(_tokens()[:, 0], state),
            "reset_state": lambda: m.reset_state(state, torch.tensor([True, False])),
        }[mode]
        with pytest.raises(ValueError, match=f"state with 2 layers.*got {n_given} layers"):
            call()


@pytest.mark.parametrize(
    "state, match",
    [
        ([torch.zeros(2, 16)] * 2, "dict"),
        ({"layers": []}, "dict"),
        ({"t": -1, "layers": [None, None]}, "non-negative int"),
        ({"t": 0, "layers": "ab"}, "2 layers"),
    ],
)
def test_state_of_wrong_structure_raises(state, match):
    with pytest.raises(ValueError, match=match):
        _model(RECURRENT[0]).forward_with_state(_tokens(), state)


# -- validation once at the boundary, per layer only in debug mode --------------------------------


def test_value_checks_at_the_boundary_and_per_layer_only_in_debug():
    import seqlab.debug

    m = SequenceModel(mixer="attention", d_model=16, n_layers=2, d_input=3, n_outputs=2).eval()
    bad = torch.randn(2, 5, 3)
    bad[0, 1, 2] = float("nan")
    with pytest.raises(ValueError, match="finite float inputs"):
        m(bad)  # once per model call, debug or not
    with torch.no_grad():
        m.blocks[0].mlp[2].bias[0] = float("inf")  # layer 0 now emits inf from finite input
    x = torch.randn(2, 5, 3)
    with seqlab.debug.checks(False):
        assert not torch.isfinite(m(x)).all()  # no per-layer reads outside debug mode
    with seqlab.debug.checks(True), pytest.raises(ValueError, match=r"layer 0 \(attention\)"):
        m(x)


def test_step_validates_tokens():
    m = _model(RECURRENT[0])
    with pytest.raises(ValueError, match=r"\[0, 11\)"):
        m.step(torch.tensor([3, 11]))
    with pytest.raises(ValueError, match="integer tokens"):
        m.step(torch.tensor([0.5, 1.0]))


# -- hybrid stacks ------------------------------------------------------------------------------


def test_hybrid_stack_builds_one_mixer_per_layer_with_keyed_config():
    m = SequenceModel(
        mixer=["gateloop", "attention", "gateloop"],
        n_layers=3,
        d_model=16,
        vocab_size=11,
        mixer_cfg={"attention": {"n_heads": 1, "pos": "none"}},
    )
    kinds = [type(b.mixer).__name__ for b in m.blocks]
    assert kinds[0] == kinds[2] != kinds[1] and m.blocks[1].mixer.n_heads == 1
    assert m.mixer_name == "gateloop+attention+gateloop"
    assert m(_tokens()).shape == (2, 6, 11)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"mixer": ["gateloop", "attention"], "n_layers": 3}, "3 names for n_layers=3, got 2"),
        ({"mixer": ["gateloop", 3], "n_layers": 2}, "list of names"),
        ({"mixer": ["gateloop"] * 2, "mixer_cfg": {"attention": {"n_heads": 1}}}, "not in the stack"),
        ({"mixer": "attention", "mixer_cfg": {"attention": {"n_heads": 1}, "pos": "none"}}, "got both"),
    ],
)
def test_hybrid_stack_bad_arguments(kw, match):
    kw = {"n_layers": 2, **kw}
    with pytest.raises(ValueError, match=match):
        SequenceModel(d_model=16, vocab_size=11, **kw)


@pytest.mark.parametrize("stack", [["gateloop", "attention", "lru"], ["attention", "mamba2", "s4d"]])
def test_hybrid_modes_agree(stack):
    torch.manual_seed(0)
    m = SequenceModel(mixer=stack, n_layers=3, d_model=16, vocab_size=11).eval()
    tokens = _tokens(2, 19, seed=4)
    with torch.no_grad():
        full = m(tokens)
        a, s = m.forward_with_state(tokens[:, :7])
        b, _ = m.forward_with_state(tokens[:, 7:], s)
        torch.testing.assert_close(torch.cat([a, b], 1), full, atol=2e-4, rtol=2e-4)
        state, outs = None, []
        for t in range(tokens.shape[1]):
            y, state = m.step(tokens[:, t], state)
            outs.append(y)
        torch.testing.assert_close(torch.stack(outs, 1), full, atol=2e-4, rtol=2e-4)


# -- randomized positions at evaluation, non-causal encoder ------------------------------------------


def test_random_positions_at_eval_samples_sorted_subset():
    m = SequenceModel(
        mixer="attention", d_model=16, n_layers=1, vocab_size=5, randomized_positions=100,
        random_positions_at_eval=True,
    ).eval()
    pos = m.make_positions(8, 20, "cpu", generator=torch.Generator().manual_seed(0))
    assert (pos.diff(dim=1) > 0).all() and pos.max() < 100 and not torch.equal(pos[0], torch.arange(20))
    with torch.no_grad():
        tokens = torch.randint(0, 5, (2, 12), generator=torch.Generator().manual_seed(1))
        torch.manual_seed(0)
        a = m(tokens)
        torch.manual_seed(1)
        b = m(tokens)
    assert not torch.allclose(a, b)  # positions are resampled at evaluation
    with pytest.raises(ValueError, match="needs randomized_positions"):
        SequenceModel(mixer="attention", d_model=16, vocab_size=5, random_positions_at_eval=True)


def test_non_causal_encoder_with_randomized_positions_sees_the_future():
    torch.manual_seed(0)
    m = SequenceModel(
        mixer="attention", d_model=16, n_layers=2, vocab_size=5, mixer_cfg={"causal": False},
        randomized_positions=64, random_positions_at_eval=True,
    ).eval()
    tokens = torch.randint(0, 5, (1, 10), generator=torch.Generator().manual_seed(2))
    changed = tokens.clone()
    changed[0, -1] = (changed[0, -1] + 1) % 5
    pos = m.make_positions(1, 10, "cpu", generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        y, y2 = m(tokens, pos), m(changed, pos)
    assert not torch.allclose(y[0, 0], y2[0, 0])  # the first output depends on the last token
    causal = SequenceModel(mixer="attention", d_model=16, n_layers=2, vocab_size=5).eval()
    with torch.no_grad():
        torch.testing.assert_close(causal(tokens)[0, 0], causal(changed)[0, 0])


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32, torch.int64])
def test_every_accepted_token_dtype_runs_in_every_mode(dtype):
    m = _model(RECURRENT[0])
    tokens = _tokens()
    with torch.no_grad():
        want = m(tokens)
        torch.testing.assert_close(m(tokens.to(dtype)), want)
        torch.testing.assert_close(m.forward_with_state(tokens.to(dtype))[0], want, atol=2e-4, rtol=2e-4)
        torch.testing.assert_close(m.step(tokens[:, 0].to(dtype))[0], want[:, 0], atol=2e-4, rtol=2e-4)
