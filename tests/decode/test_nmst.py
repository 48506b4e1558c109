"""The NMST head (arXiv 2210.00660): its EOS lower bound, its distribution, decoding with it, the claim."""

import math

import pytest
import torch

from seqlab.decode import generate
from seqlab.experiments.claim import Claim
from seqlab.models.nmst import NMSTLanguageModel, eos_lower_bound, log1mexp, nmst_log_probs
from seqlab.papers.claims import CLAIMS
from seqlab.registry import names

V, EOS, EPS = 12, 11, 0.1


def _model(seed=0, eps=EPS):
    torch.manual_seed(seed)
    return NMSTLanguageModel(V, EOS, epsilon=eps, mixer="gru", d_model=16, n_layers=1).eval()


def test_registered():
    assert "nmst_lm" in names("model")
    assert "nmst" in CLAIMS and isinstance(CLAIMS["nmst"], Claim)


def test_distribution_sums_to_one_and_bound_holds_for_any_logits():
    torch.manual_seed(0)
    logits = torch.randn(5, 30, V) * 20  # includes very large / small EOS logits
    t = torch.arange(1, 31)
    lp = nmst_log_probs(logits, t, EOS, EPS)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(5, 30), atol=1e-5)
    bound = eos_lower_bound(t, EPS).float()
    assert bool((lp[..., EOS].exp() >= bound - 1e-6).all())
    # lambda = 0 (EOS logit -> -inf) gives exactly the bound; non-EOS ratios follow the softmax
    low = logits.clone()
    low[..., EOS] = -1e4
    assert torch.allclose(nmst_log_probs(low, t, EOS, EPS)[..., EOS].exp(), bound, atol=1e-6)
    ratio = lp[..., 0] - lp[..., 1]
    assert torch.allclose(ratio, logits[..., 0] - logits[..., 1], atol=1e-3)


def test_eos_lower_bound_holds_step_by_step_while_decoding():
    m = _model()
    prompt = torch.randint(0, EOS, (4, 3))
    with torch.no_grad():
        lp, state = m.prefill(prompt)
        x = prompt
        probs = []
        for _ in range(20):
            t = x.shape[1]
            assert bool((lp[:, EOS].exp() >= eos_lower_bound(t, EPS).float() - 1e-6).all())
            probs.append(lp[:, EOS].exp())
            nxt = lp[:, :EOS].argmax(-1)  # never feed EOS: keep going past the bound
            x = torch.cat([x, nxt[:, None]], 1)
            lp, state = m.step(nxt, state)
        # the step path equals the full forward pass at every position
        full = m(x)
    assert torch.allclose(full[:, -1], lp, atol=1e-4)


def test_eos_probability_may_fall_non_monotonic():
    # the bound rises, yet lambda can drop: p(eos) at t=2 > p(eos) at t=3 for a falling EOS logit
    logits = torch.zeros(2, V)
    logits[0, EOS], logits[1, EOS] = 3.0, -3.0
    lp = nmst_log_probs(logits, torch.tensor([2, 3]), EOS, EPS)
    assert lp[0, EOS] > lp[1, EOS]


@pytest.mark.parametrize("method,kw", [("greedy", {}), ("sample", {"top_k": 3}), ("sample", {"top_p": 0.9})])
def test_incomplete_decoders_stop_once_the_bound_passes_one_half(method, kw):
    m = _model(eps=0.2)
    t_star = math.ceil(math.log(0.5) / math.log(1 - 0.2))  # 4: f_lb(4) = 0.59 > 1/2
    prompt = torch.randint(0, EOS, (8, 2))
    if method == "sample":
        kw = {**kw, "generator": torch.Generator().manual_seed(0)}
    ids = generate(m, prompt, method, max_new_tokens=12, eos_token_id=EOS, **kw)
    cont = ids[:, 2:]
    assert bool((cont == EOS).any(1).all())
    first = (cont == EOS).float().argmax(1) + 1  # tokens generated up to EOS
    assert int((first + 2 - 1).max()) <= t_star  # EOS predicted at a prefix length <= t*


def test_beam_terminates():
    m = _model(eps=0.2)
    ids = generate(m, torch.randint(0, EOS, (3, 2)), "beam", num_beams=3, max_new_tokens=20, eos_token_id=EOS)
    assert bool((ids[:, 2:] == EOS).any(1).all())


def test_bad_arguments():
    with pytest.raises(ValueError, match="epsilon"):
        _model(eps=1.0)
    with pytest.raises(ValueError, match="eos_token_id"):
        NMSTLanguageModel(V, V, mixer="gru", d_model=8, n_layers=1)
    with pytest.raises(ValueError, match=">= 1"):
        nmst_log_probs(torch.zeros(2, V), 0, EOS, EPS)


def test_log1mexp_stable():
    x = torch.tensor([-1e-8, -0.5, -5.0, -50.0], dtype=torch.float64)
    assert torch.allclose(log1mexp(x), torch.log(1 - torch.exp(x)), rtol=1e-6)


def _row(nmst, softmax, ppl=50.0):
    names_ = ("greedy", "beam", "top_k", "nucleus")
    return {
        "pair": {
            "nmst_nonterm_mean": nmst,
            "softmax_nonterm_mean": softmax,
            "nmst_nonterm": dict.fromkeys(names_, nmst),
            "softmax_nonterm": dict.fromkeys(names_, softmax),
            "softmax_ppl": ppl,
            "nmst_ppl": ppl,
            "unigram_ppl": 125.0,
        }
    }


def test_criterion_trivial_rows_never_pass():
    c = CLAIMS["nmst"]
    jitter = (0.0, 0.001, 0.002)
    # NMST no better than the softmax LM
    same = {s: _row(0.2 + j, 0.2 + j) for s, j in zip(c.seeds, jitter, strict=True)}
    assert c.judge(same).status != "passed"
    # a model that never emits EOS
    never = {s: _row(1.0, 1.0) for s in c.seeds}
    assert c.judge(never).status != "passed"
    # both terminate always: no effect to show
    zero = {s: _row(0.0, 0.0) for s in c.seeds}
    assert c.judge(zero).status != "passed"
    # untrained models (no better than unigram): inconclusive whatever the ratios
    untrained = {s: _row(0.0, 0.5 + j, ppl=200.0) for s, j in zip(c.seeds, jitter, strict=True)}
    assert c.judge(untrained).status == "inconclusive"
    # the paper's effect passes
    effect = {s: _row(0.0, 0.3 + j) for s, j in zip(c.seeds, jitter, strict=True)}
    assert c.judge(effect).status == "passed"


def test_claim_run_end_to_end_tiny():
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
    for name in ("softmax", "nmst"):
        assert set(r[f"{name}_nonterm"]) == {"greedy", "beam", "top_k", "nucleus"}
        assert 0.0 <= r[f"{name}_nonterm_mean"] <= 1.0 and r[f"{name}_ppl"] > 1.0
    assert r["metric"] == "nonterm_ratio" and r["unigram_ppl"] > 1.0
    with pytest.raises(ValueError, match="unknown task_params"):
        run_one(RunConfig(task="nmst_text", mixer="gru", model="nmst_pair", task_params={"eps": 0.1}))
