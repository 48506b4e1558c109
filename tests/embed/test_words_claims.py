"""Criterion tests of the word-embedding claims: trivial rows never pass, a real effect can pass."""

from seqlab.experiments.cell import get_experiment
from seqlab.papers import TITLES
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_embed_words import HYBRID_ORDER_PROBE, WORD2VEC_GENSIM
from seqlab.papers.status import STATUS


def judge(c, make, jitter=0.004):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(n, i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def w2v(ours, gensim, rand=0.0):
    return lambda n, j: {
        "seqlab_ws353": ours + j,
        "gensim_ws353": gensim + j,
        "random_ws353": rand + j,
        "seqlab_simlex": 0.1,
        "gensim_simlex": 0.1,
        "seqlab_cpu_s": 1.0,
        "gensim_cpu_s": 1.0,
    }


def probe(cbow, cmow, hybrid, untrained=None, cmow_bshift=0.8):
    def make(n, j):
        out = {}
        for m, v in (
            ("cbow", cbow),
            ("cmow", cmow),
            ("hybrid", hybrid),
            ("untrained_hybrid", untrained or cbow),
        ):
            out[f"{m}_mean"], out[f"{m}_bshift"], out[f"{m}_content"] = v + j, v, v
        out["cmow_bshift"] = cmow_bshift
        return out

    return make


def test_registered_with_catalog_titles_and_judged():
    for c in (WORD2VEC_GENSIM, HYBRID_ORDER_PROBE):
        assert CLAIMS[c.name] is c and c.title in TITLES and c.title in STATUS
        for cell in c.runs:
            assert callable(get_experiment(cell.experiment))


def test_word2vec_claim_trivial_rows_never_pass():
    assert judge(WORD2VEC_GENSIM, w2v(0.0, 0.43)).status != "passed"  # random-level vectors
    assert judge(WORD2VEC_GENSIM, w2v(0.30, 0.43)).status == "failed"  # far below gensim
    assert judge(WORD2VEC_GENSIM, w2v(0.40, 0.40, rand=0.40)).status != "passed"  # no better than random
    assert judge(WORD2VEC_GENSIM, w2v(0.40, 0.50)).status != "passed"  # more than 0.05 below gensim
    assert judge(WORD2VEC_GENSIM, w2v(0.45, 0.30)).status == "inconclusive"  # gensim (control) failed


def test_word2vec_claim_can_pass():
    assert judge(WORD2VEC_GENSIM, w2v(0.42, 0.43)).status == "passed"
    assert judge(WORD2VEC_GENSIM, w2v(0.47, 0.43)).status == "passed"


def test_hybrid_claim_trivial_rows_never_pass():
    assert judge(HYBRID_ORDER_PROBE, probe(0.75, 0.7, 0.75)).status != "passed"  # no gain over CBOW
    assert judge(HYBRID_ORDER_PROBE, probe(0.5, 0.5, 0.5)).status != "passed"  # all at chance
    assert judge(HYBRID_ORDER_PROBE, probe(0.7, 0.7, 0.8, untrained=0.9)).status != "passed"  # random encoder
    assert judge(HYBRID_ORDER_PROBE, probe(0.7, 0.7, 0.8, cmow_bshift=0.5)).status == "inconclusive"


def test_hybrid_claim_can_pass():
    assert judge(HYBRID_ORDER_PROBE, probe(0.72, 0.70, 0.80)).status == "passed"
