"""The softmax / ST / NMST comparison (arXiv 2210.00660 vs 2002.02492): its pieces, the cell, the claim."""

import math

import pytest
import torch

from seqlab.decode import small_lm as S
from seqlab.decode.nmst_experiment import DECODERS, bound_only, nmst_vs_st, non_termination
from seqlab.models.nmst import NMSTLanguageModel, STLanguageModel, eos_lower_bound
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_decode_nmst import NMST_VS_ST, nmst_over_st
from seqlab.registry import experiment_names

V, EOS = 12, 11


def _lm(cls=NMSTLanguageModel, eps=0.1, seed=0):
    torch.manual_seed(seed)
    return cls(V, EOS, epsilon=eps, mixer="gru", d_model=16, n_layers=1).eval()


def test_bound_only_is_the_nmst_head_with_lambda_zero():
    m = _lm()
    x = torch.randint(0, EOS, (3, 9))
    with torch.no_grad():
        lp = bound_only(m)(x)
        raw = m.backbone(x)
    t = torch.arange(1, 10, dtype=torch.float64)
    # p(eos|t) is exactly the bound; the other tokens share the rest by the network's softmax over non-EOS
    assert torch.allclose(lp[..., EOS].exp().double(), eos_lower_bound(t, 0.1).expand(3, 9), atol=1e-6)
    for b in range(3):
        for i in range(9):
            keep = (1 - 0.1) ** (i + 1)
            z = sum(math.exp(float(raw[b, i, v])) for v in range(EOS))
            assert math.isclose(
                float(lp[b, i, 0].exp()), keep * math.exp(float(raw[b, i, 0])) / z, rel_tol=1e-4
            )


def _never():
    """A softmax LM whose EOS logit is -1e4 after every prefix: it never emits EOS."""
    from seqlab.models import SequenceModel

    torch.manual_seed(0)
    m = SequenceModel(mixer="gru", d_model=8, n_layers=1, vocab_size=V).eval()
    with torch.no_grad():
        m.head.bias[EOS] = -1e4
    return m


def test_non_termination_counts_rows_without_eos():
    # ST at epsilon 0.5: f_lb(t) > 1/2 from t = 2 on, so greedy/top-k/nucleus/beam all stop -> ratio 0
    st = _lm(STLanguageModel, eps=0.5)
    prompts = torch.randint(0, EOS, (5, 2))
    r = non_termination(st, prompts, EOS, 12, seed=0)
    assert set(r) == set(DECODERS) and all(v == 0.0 for v in r.values())
    # a model that never emits EOS: every continuation is unterminated -> ratio 1
    never = non_termination(_never(), prompts, EOS, 6, seed=0)
    assert all(v == 1.0 for v in never.values())
    with pytest.raises(ValueError, match="no room"):
        non_termination(st, prompts, EOS, 2, seed=0)
    with pytest.raises(ValueError, match=r"\(n, k\)"):
        non_termination(st, prompts[0], EOS, 12, seed=0)


def test_fit_lm_trains_every_head_and_leaves_train_word_lm_unchanged():
    seqs = [[S.BOS, 3 + (i % 4), 3 + ((i + 1) % 4), S.EOS] for i in range(40)]
    for cls in (NMSTLanguageModel, STLanguageModel):
        torch.manual_seed(0)
        m = cls(8, S.EOS, epsilon=0.01, mixer="gru", d_model=16, n_layers=1)
        before = S.perplexity(m, seqs)
        S.fit_lm(m, seqs, 8, seed=0, steps=60, lr=1e-2, batch_size=8)
        assert not m.training and S.perplexity(m, seqs) < 0.5 * before
    # train_word_lm is fit_lm on a SequenceModel built under the seed
    a = S.train_word_lm(seqs, 8, seed=1, mixer="gru", d_model=8, n_layers=1, steps=5)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        from seqlab.models import SequenceModel

        b = SequenceModel(mixer="gru", d_model=8, n_layers=1, vocab_size=8)
    S.fit_lm(b, seqs, 8, seed=1, steps=5)
    x = torch.tensor([seqs[0]])
    assert torch.allclose(a(x), b(x))


def test_cell_end_to_end_tiny():
    assert "decode.nmst_vs_st" in experiment_names()
    r = nmst_vs_st({"vocab": 60, "steps": 3, "d_model": 8, "n_prompts": 3, "max_length": 10}, 0)
    for head in ("softmax", "st", "nmst"):
        assert set(r[f"{head}_nonterm"]) == set(DECODERS)
        assert 0.0 <= r[f"{head}_nonterm_mean"] <= 1.0 and r[f"{head}_ppl"] > 1.0
    assert r["params_st"] == r["params_nmst"] == r["params_softmax"]  # same network, three heads
    assert r["bound_only_ppl"] > 1.0 and r["unigram_ppl"] > 1.0
    with pytest.raises(ValueError, match="unknown params"):
        nmst_vs_st({"eps": 0.1}, 0)


def _row(nmst_ppl, st_ppl=60.0, nmst_nt=0.0, st_nt=0.0, bound=70.0, uni=125.0):
    decs = ("greedy", "beam", "top_k", "nucleus")
    return {
        "lm": {
            "nmst_ppl": nmst_ppl,
            "st_ppl": st_ppl,
            "softmax_ppl": 55.0,
            "bound_only_ppl": bound,
            "unigram_ppl": uni,
            "nmst_nonterm_mean": nmst_nt,
            "st_nonterm_mean": st_nt,
            "softmax_nonterm": dict.fromkeys(decs, 0.02),
            "st_nonterm": dict.fromkeys(decs, st_nt),
            "nmst_nonterm": dict.fromkeys(decs, nmst_nt),
        }
    }


def _judge(make, jitter=(0.0, 0.002, 0.004)):
    return NMST_VS_ST.judge({s: make(j) for s, j in zip(NMST_VS_ST.seeds, jitter, strict=True)})


def test_registered_and_measure():
    assert CLAIMS["nmst_vs_st"] is NMST_VS_ST
    assert nmst_over_st(_row(54.0)) == pytest.approx(0.9)
    # lower perplexity bought by not terminating is no effect
    assert nmst_over_st(_row(54.0, nmst_nt=0.2)) == 1.0
    assert nmst_over_st(_row(66.0, nmst_nt=0.2)) == pytest.approx(1.1)


def test_criterion_trivial_rows_never_pass():
    # NMST equal to ST
    assert _judge(lambda j: _row(60.0 * (1 + j))).status != "passed"
    # NMST no better than the bound alone (its gate learnt nothing), here below ST
    assert _judge(lambda j: _row(50.0 * (1 + j), bound=50.0)).status != "passed"
    # NMST is the unigram model
    assert _judge(lambda j: _row(125.0 * (1 + j), st_ppl=130.0)).status != "passed"
    # NMST better in perplexity but it stops terminating
    assert _judge(lambda j: _row(54.0 * (1 + j), nmst_nt=0.3)).status != "passed"
    # a gain below the threshold
    assert _judge(lambda j: _row(59.4 * (1 + j / 10))).status != "passed"
    # untrained LMs: inconclusive
    assert _judge(lambda j: _row(110.0 * (1 + j), st_ppl=120.0)).status == "inconclusive"
    # too wide an interval: inconclusive
    assert _judge(lambda j: _row(54.0 * (1 + j)), jitter=(0.0, 0.15, -0.12)).status == "inconclusive"


def test_criterion_can_pass_and_fail():
    assert _judge(lambda j: _row(54.0 * (1 + j))).status == "passed"
    assert _judge(lambda j: _row(63.0 * (1 + j))).status == "failed"


def test_eps01_version_changes_only_epsilon():
    v2 = CLAIMS["nmst_vs_st_eps01"]
    (cell,) = v2.make_runs(0).values()
    (old,) = NMST_VS_ST.make_runs(0).values()
    assert cell.experiment == old.experiment and cell.params == {"epsilon": 0.01} and old.params == {}
    assert (v2.threshold, v2.null, v2.control.target, v2.measure) == (
        NMST_VS_ST.threshold,
        NMST_VS_ST.null,
        NMST_VS_ST.control.target,
        NMST_VS_ST.measure,
    )
    assert v2.judge(
        {s: _row(54.0 * (1 + j)) for s, j in zip(v2.seeds, (0, 0.002, 0.004), strict=True)}
    ).status == ("passed")
    assert v2.judge({s: _row(54.0, nmst_nt=0.3) for s in v2.seeds}).status != "passed"
