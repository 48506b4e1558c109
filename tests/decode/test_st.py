"""The self-terminating (ST) head (Welleck et al. 2020, arXiv 2002.02492), the baseline NMST relaxes."""

import math

import pytest
import torch

from seqlab.decode import generate
from seqlab.models.nmst import STLanguageModel, eos_lower_bound, st_log_probs
from seqlab.registry import get, names

V, EOS, EPS = 12, 11, 0.1


def _model(seed=0, eps=EPS):
    torch.manual_seed(seed)
    return STLanguageModel(V, EOS, epsilon=eps, mixer="gru", d_model=16, n_layers=1).eval()


def test_registered_with_its_paper():
    assert "st_lm" in names("model")
    e = get("model", "st_lm")
    assert [p.arxiv for p in e.implements] == ["2002.02492"]
    assert e.used_by == ("A Non-monotonic Self-terminating Language Model",)


def test_distribution_matches_the_running_product_computed_by_a_plain_loop():
    torch.manual_seed(0)
    logits = torch.randn(3, 9, V, dtype=torch.float64) * 4
    lp, last = st_log_probs(logits, EOS, EPS)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(3, 9, dtype=torch.float32), atol=1e-5)
    for b in range(3):
        alpha = 1.0
        for t in range(9):
            a = float(logits[b, t, EOS])
            alpha *= (1 - EPS) / (1 + math.exp(-a))  # (1 - eps) * sigmoid(u_eos . h_t)
            assert math.isclose(float(lp[b, t, EOS].exp()), 1 - alpha, rel_tol=1e-4, abs_tol=1e-6)
            z = sum(math.exp(float(logits[b, t, v])) for v in range(V) if v != EOS)
            p0 = alpha * math.exp(float(logits[b, t, 0])) / z
            assert math.isclose(float(lp[b, t, 0].exp()), p0, rel_tol=1e-4)
        assert math.isclose(float(last[b].exp()), alpha, rel_tol=1e-4)


def test_eos_probability_is_monotone_and_above_the_bound():
    torch.manual_seed(1)
    logits = torch.randn(4, 30, V) * 10
    lp, _ = st_log_probs(logits, EOS, EPS)
    p = lp[..., EOS].exp()
    assert bool((p[:, 1:] >= p[:, :-1] - 1e-6).all())  # never falls (unlike NMST)
    bound = eos_lower_bound(torch.arange(1, 31), EPS).float()
    assert bool((p >= bound - 1e-6).all())


def test_carry_continues_a_prefix():
    torch.manual_seed(2)
    logits = torch.randn(2, 10, V)
    whole, _ = st_log_probs(logits, EOS, EPS)
    _, carry = st_log_probs(logits[:, :6], EOS, EPS)
    rest, _ = st_log_probs(logits[:, 6:], EOS, EPS, carry)
    assert torch.allclose(whole[:, 6:], rest, atol=1e-5)


def test_step_decoding_equals_the_full_forward_and_reorders():
    m = _model()
    prompt = torch.randint(0, EOS, (3, 4))
    with torch.no_grad():
        lp, state = m.prefill(prompt)
        x = prompt
        for _ in range(6):
            nxt = lp[:, :EOS].argmax(-1)
            x = torch.cat([x, nxt[:, None]], 1)
            lp, state = m.step(nxt, state)
        assert torch.allclose(m(x)[:, -1], lp, atol=1e-4)
        idx = torch.tensor([2, 0, 0])
        moved = m.reorder_state(state, idx)
        lp2, _ = m.step(x[idx, -1], moved)
        ref, _ = m.step(x[:, -1], state)
    assert torch.allclose(lp2, ref[idx], atol=1e-5)


@pytest.mark.parametrize("method,kw", [("greedy", {}), ("sample", {"top_k": 3}), ("beam", {"num_beams": 3})])
def test_decoders_terminate(method, kw):
    m = _model(eps=0.2)
    if method == "sample":
        kw = {**kw, "generator": torch.Generator().manual_seed(0)}
    ids = generate(m, torch.randint(0, EOS, (4, 2)), method, max_new_tokens=20, eos_token_id=EOS, **kw)
    assert bool((ids[:, 2:] == EOS).any(1).all())


def test_bad_input():
    m = _model()
    with pytest.raises(ValueError, match="backbone"):
        m.step(torch.zeros(2, dtype=torch.long), {"t": 0})
    with pytest.raises(ValueError, match=r"\(batch, length, vocab\)"):
        st_log_probs(torch.zeros(2, V), EOS, EPS)
    with pytest.raises(ValueError, match="eos_token_id"):
        st_log_probs(torch.zeros(1, 2, V), V, EPS)
    with pytest.raises(ValueError, match="epsilon"):
        STLanguageModel(V, EOS, epsilon=0.0, mixer="gru", d_model=8, n_layers=1)


def test_bench_rows_include_st():
    from seqlab.bench.run import run_one
    from seqlab.experiments.config import RunConfig

    cfg = RunConfig(
        task="nmst_text",
        mixer="gru",
        model="nmst_pair",
        d_model=8,
        n_layers=1,
        steps=2,
        batch_size=4,
        target=None,
        task_params={"vocab": 50, "max_length": 8, "n_prompts": 4, "prompt_words": 2},
    )
    r = run_one(cfg)
    assert set(r["st_nonterm"]) == {"greedy", "beam", "top_k", "nucleus"}
    assert 0.0 <= r["st_nonterm_mean"] <= 1.0 and r["st_ppl"] > 1.0
