import math

import pytest
import torch

from seqlab import registry
from seqlab.embed.retrieval import (
    BM25,
    DualEncoder,
    ExactIndex,
    average_precision,
    evaluate_rankings,
    lee_halves,
    make_index,
    rank_bm25,
    recall_at_k,
)

DOCS = [
    ["the", "cat", "sat"],
    ["the", "dog", "sat", "on", "the", "mat"],
    ["a", "cat", "and", "a", "dog"],
    ["mat"],
]


def bm25_direct(query, docs, k1=1.2, b=0.75):
    """Every (query term, document) pair scored straight from the formula, no index."""
    N = len(docs)
    avgdl = sum(map(len, docs)) / N
    out = []
    for d in docs:
        s = 0.0
        for t in query:
            n = sum(t in x for x in docs)
            idf = math.log(1 + (N - n + 0.5) / (n + 0.5))
            tf = d.count(t)
            s += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))
        out.append(s)
    return out


def test_bm25_inverted_index_equals_the_formula():
    bm = BM25().fit(DOCS)
    for q in (["cat"], ["the", "mat"], ["dog", "dog", "sat"], ["unknown"]):
        assert torch.allclose(bm.scores(q), torch.tensor(bm25_direct(q, DOCS), dtype=torch.float64))
    # hand value: "mat" in doc 3 (tf 1, |d| 1, avgdl 3.75, n_t 2 of N 4)
    idf = math.log(1 + 2.5 / 2.5)
    assert float(bm.scores(["mat"])[3]) == pytest.approx(idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 / 3.75)))
    assert bm.search(["cat", "sat"])[0] == 0
    with pytest.raises(ValueError, match="not fitted"):
        BM25().scores(["x"])
    with pytest.raises(ValueError, match="token lists"):
        BM25().fit([])


def test_average_precision_and_recall_by_hand():
    assert average_precision([4, 1, 7, 2], [1, 2]) == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert average_precision([3, 5], [9]) == 0.0
    assert recall_at_k([4, 1, 7, 2], [1, 2], 2) == 0.5 and recall_at_k([4, 1, 7, 2], [1, 2], 4) == 1.0
    m = evaluate_rankings([[0, 1], [0, 1]], [[0], [1]], ks=(1,))
    assert m["map"] == pytest.approx(0.75) and m["recall@1"] == 0.5
    with pytest.raises(ValueError, match="relevant"):
        average_precision([1], [])


def test_exact_index_ranks_by_cosine_and_faiss_agrees_when_installed():
    g = torch.Generator().manual_seed(0)
    x, q = torch.randn(300, 16, generator=g), torch.randn(20, 16, generator=g)
    s, i = ExactIndex(x).search(q, 10)
    xn, qn = torch.nn.functional.normalize(x, dim=1), torch.nn.functional.normalize(q, dim=1)
    for r in range(20):
        assert i[r].tolist() == torch.argsort(qn[r] @ xn.T, descending=True)[:10].tolist()
    try:
        import faiss  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(ModuleNotFoundError, match=r"seqlab\[ann\]"):
            make_index(x, "faiss")
        return
    fs, fi = make_index(x, "faiss").search(q, 10)
    assert torch.equal(fi, i) and torch.allclose(fs, s, atol=1e-5)
    _, hi = make_index(x, "faiss-hnsw").search(q, 10)
    recall = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(hi, i)) / 200
    assert recall >= 0.9
    with pytest.raises(ValueError, match="backend"):
        make_index(x, "annoy")
    with pytest.raises(ValueError, match="dim 16"):
        ExactIndex(x).search(torch.randn(2, 3), 1)


def test_lee_halves_split_documents_and_the_dual_encoder_learns_pairs():
    rs = lee_halves(seed=0, n_test=40)
    assert len(rs.queries) == len(rs.passages) == 40 and len(rs.train) > 200
    assert not set(rs.queries) & {q for q, _ in rs.train}
    de = DualEncoder(dim=32, epochs=3, seed=0).fit(rs.train[:120])
    q, p = de.encode([a for a, _ in rs.train[:60]]), de.encode([b for _, b in rs.train[:60]])
    rankings = (q @ p.T).argsort(dim=1, descending=True).tolist()
    trained = evaluate_rankings(rankings, [[i] for i in range(60)])["map"]
    assert trained > 0.2  # in-sample pairs: far above chance (~0.08 for 60 passages)
    assert registry.get("embedder", "dual_encoder").implements[0].arxiv == "1811.08008"
    with pytest.raises(ValueError, match="no vocabulary"):
        DualEncoder(min_count=10**6).fit(rs.train[:5])
    bm = evaluate_rankings(rank_bm25(rs.queries, rs.passages), [[i] for i in range(40)])
    assert 0 < bm["map"] <= 1
