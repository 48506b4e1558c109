"""Collision test and SipIt: exact recovery on small seqlab models; fast layer function vs hidden_states."""

import pytest
import torch

from seqlab.models import SequenceModel
from seqlab.probe import collision_test, fit_linear_inverse, layer_function, sipit, sipit_search


def _model(mixer="attention", seed=0, **kw):
    torch.manual_seed(seed)
    return SequenceModel(mixer=mixer, d_model=32, n_layers=2, vocab_size=40, **kw).eval()


def _ids(b, t, seed=1, v=40):
    return torch.randint(0, v, (b, t), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mixer, pos", [("attention", "sinusoidal"), ("gateloop", "none"), ("s4d", "none")])
def test_layer_function_reproduces_hidden_states(mixer, pos):
    lm = _model(mixer, pos_enc=pos)
    ids = _ids(3, 9)
    with torch.no_grad():
        hs = lm.hidden_states(ids)
        emb = lm.input_embeddings(ids)
        for layer in range(lm.n_layers + 1):
            fast = layer_function(lm, layer)(emb)
            ref = layer_function(lm, layer, fast=False)(emb)
            assert torch.allclose(fast, hs[layer], atol=1e-5)
            assert torch.allclose(ref, hs[layer], atol=1e-5)


@pytest.mark.parametrize("order", ["scan", "gradient", "linear"])
@pytest.mark.parametrize("layer", [0, 1, 2])
def test_sipit_recovers_every_token_of_a_small_model(order, layer):
    lm = _model("attention", pos_enc="sinusoidal")
    ids = _ids(2, 7, seed=3)
    with torch.no_grad():
        hidden = lm.hidden_states(ids)[layer]
    kw = {}
    if order == "linear":
        kw["inverse"] = fit_linear_inverse(lm, layer, _ids(16, 12, seed=4))
    res = sipit_search(lm, hidden, layer, order=order, batch=16, grad_steps=5, **kw)
    assert torch.equal(res.ids, ids) and bool(res.exact.all())
    assert bool((res.checked <= 40).all()) and bool((res.distance < 1e-3).all())
    assert torch.equal(sipit(lm, hidden[0], layer, order=order, **kw), ids[0])


def test_sipit_on_a_recurrent_stack_and_the_last_layer():
    lm = _model("gateloop")
    ids = _ids(1, 10, seed=5)
    with torch.no_grad():
        hidden = lm.hidden_states(ids)[-1]
    assert torch.equal(sipit(lm, hidden, -1, order="scan"), ids)


def test_a_good_order_checks_fewer_candidates_than_the_scan():
    lm = _model("attention", pos_enc="sinusoidal")
    ids = _ids(1, 8, seed=6)
    with torch.no_grad():
        hidden = lm.hidden_states(ids)[1]
    inv = fit_linear_inverse(lm, 1, _ids(32, 12, seed=7))
    lin = sipit_search(lm, hidden, 1, order="linear", inverse=inv, batch=1)
    scan = sipit_search(lm, hidden, 1, order="scan", batch=1)
    assert torch.equal(lin.ids, ids) and torch.equal(scan.ids, ids)
    assert torch.equal(scan.checked[0], ids[0] + 1)  # the scan stops at the true token
    assert lin.checked.float().mean() < scan.checked.float().mean()


def test_capped_search_reports_inexact_positions():
    lm = _model("attention", pos_enc="sinusoidal")
    ids = torch.tensor([[0, 5, 0, 9]])
    with torch.no_grad():
        hidden = lm.hidden_states(ids)[2]
    res = sipit_search(lm, hidden, 2, order="scan", max_candidates=1)
    # position 1 is missed; position 2's true token (0) is tried but the recovered prefix is wrong
    assert res.exact.tolist() == [[True, False, False, False]]
    assert res.ids[0, 0] == 0 and bool((res.checked == 1).all())


def test_collision_test_finds_no_collision_and_distance_is_the_direct_minimum():
    lm = _model("attention", pos_enc="sinusoidal")
    ids = _ids(30, 6, seed=8)
    out = collision_test(lm, ids, layer=2)
    with torch.no_grad():
        last = lm.hidden_states(ids)[2][:, -1].double()
    direct = min(float((last[i] - last[j]).norm()) for i in range(30) for j in range(i + 1, 30))
    assert out["min_distance"] == pytest.approx(direct, rel=1e-6)
    assert out["collisions"] == 0 and out["pairs"] == 435 and out["prompts"] == 30


def test_an_exact_duplicate_state_counts_as_a_collision():
    lm = _model("attention")  # no positions: the last state of [a, b] and [b, a] may differ, of [a] only
    ids = torch.tensor([[1, 2, 3], [4, 2, 3]])
    out = collision_test(lm, ids, layer=0)  # layer 0 = the last token's embedding: identical rows
    assert out["collisions"] == 1 and out["min_distance"] == 0.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda lm: sipit(lm, torch.randn(4, 32), 3), r"layer must be an int in \[0, 2\]"),
        (lambda lm: sipit(lm, torch.randn(4, 31), 1), r"shape \(B, T, 32\)"),
        (lambda lm: sipit(lm, torch.full((4, 32), float("nan")), 1), "NaN or inf"),
        (lambda lm: sipit(lm, torch.randn(4, 32), 1, order="random"), "order must be"),
        (lambda lm: sipit(lm, torch.randn(4, 32), 1, order="linear"), "needs inverse"),
        (lambda lm: sipit(lm, torch.randn(4, 32), 1, batch=0), "batch must be"),
        (lambda lm: collision_test(lm, torch.tensor([[1, 2], [1, 2]])), "distinct prompts"),
        (lambda lm: collision_test(lm, torch.tensor([[1, 2]])), "prompts >= 2"),
        (lambda lm: collision_test(lm, torch.tensor([[1, 2], [2, 1]]), layer=-4), "layer must be"),
    ],
)
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call(_model())


def test_sipit_refuses_a_non_causal_model():
    lm = _model(mixer_cfg={"causal": False})
    with pytest.raises(ValueError, match="causal"):
        sipit(lm, torch.randn(3, 32), 1)


@pytest.mark.slow
def test_sipit_on_smollm2_recovers_short_prompts_and_the_fast_path_matches():
    import seqlab.lm

    lm = seqlab.lm.load("smollm2-135m")
    ids = torch.stack([lm.encode([s]).ids[0, :5] for s in ["The cat sat on the mat", "Paris is a city in"]])
    layer = 3
    with torch.no_grad():
        hs = lm.hidden_states(ids)
        emb = lm.input_embeddings(ids)
        assert torch.allclose(layer_function(lm, layer)(emb), hs[layer], atol=1e-4)
    fit = lm.encode(["A short text about the weather and the news of the day in a small town."]).ids
    inv = fit_linear_inverse(lm, layer, fit)
    res = sipit_search(lm, hs[layer], layer, order="linear", inverse=inv, batch=256)
    assert torch.equal(res.ids, ids) and bool(res.exact.all())
