import pytest
import torch

from seqlab.recsys import GRID, Popularity, evaluate
from seqlab.recsys.grid import id_tokens
from seqlab.recsys.item_text import mean_pool

N = 40


def _emb(n=N, dim=8, seed=0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def cycles(make_cycles):
    return make_cycles(num_items=N, users=60, length=10)  # 32 unseen items per user at test time


@pytest.fixture(scope="module")
def fitted(cycles):
    g = GRID(
        levels=2,
        codebook_size=4,
        window=4,
        epochs=30,
        batch_size=16,
        lr=5e-3,
        d_model=32,
        quantizer_steps=50,
        embeddings=_emb(),
        seed=0,
    )
    return g.fit(cycles)


def test_id_tokens_offset_each_level():
    codes = torch.tensor([[0, 3], [2, 1]])
    assert id_tokens(codes, 4, torch.tensor([0, 1])).tolist() == [[0, 7, 8], [2, 5, 9]]
    assert id_tokens(codes, 4, None).tolist() == [[0, 7], [2, 5]]


def test_item_tokens_and_windows(fitted, cycles):
    toks = fitted.item_tokens
    assert toks.shape == (N + 1, fitted.id_len + 1) and bool((toks[1:, -1] == fitted.eos).all())
    assert len({tuple(r) for r in toks[1:, :-1].tolist()}) == N  # the digit makes every ID unique
    seq = cycles.train[0]
    wins = fitted.windows(seq)
    per = fitted.id_len + 1
    assert all(w.numel() == 5 * per for w in wins)
    # each item after the first is inside some window after its first slot
    seen = {tuple(w[k * per : (k + 1) * per].tolist()) for w in wins for k in range(1, 5)}
    assert all(tuple(toks[i].tolist()) in seen for i in seq[1:].tolist())


def test_constrained_beam_never_emits_an_invalid_id(fitted, cycles):
    hist = cycles.history()
    for h in hist[:10]:
        seen = set(h.tolist())
        trie = fitted.trie(seen)
        ids = fitted.generate_ids(h, 8, trie)
        assert len(ids) == 8 and len(set(ids)) == 8
        for t in ids:
            assert t in fitted.items_of and not set(fitted.items_of[t]) <= seen
    assert 0.0 <= fitted.invalid_rate(hist[:4], k=8) <= 1.0


def test_untrained_unconstrained_beam_emits_invalid_ids_the_trie_rules_out(cycles):
    g = GRID(
        levels=2,
        codebook_size=4,
        window=4,
        epochs=1,
        batch_size=64,
        d_model=16,
        quantizer_steps=20,
        embeddings=_emb(),
        seed=1,
        lr=1e-6,
    ).fit(cycles)
    hist = cycles.history()[:6]
    assert g.invalid_rate(hist, k=8) > 0.0  # e.g. EOS too early or a code after a foreign prefix
    rec = g.recommend(hist, 8)
    assert rec.shape == (6, 8) and bool((rec >= 1).all() & (rec <= N).all())


def test_grid_learns_the_cycle_and_excludes_seen_items(fitted, cycles):
    res = evaluate(fitted, cycles)
    pop = evaluate(Popularity().fit(cycles), cycles)
    assert res["recall@10"] > 0.9 and res["ndcg@10"] > pop["ndcg@10"]
    rec = fitted.recommend(cycles.history()[:5], 10)
    for h, r in zip(cycles.history()[:5], rec, strict=True):
        assert not set(h.tolist()) & set(r.tolist()) and len(set(r.tolist())) == 10


def test_without_the_digit_colliding_items_share_an_id(cycles):
    emb = _emb()
    emb[1] = emb[0]  # items 1 and 2 identical: same codes
    g = GRID(
        levels=2,
        codebook_size=4,
        window=4,
        epochs=1,
        collisions="none",
        quantizer_steps=20,
        embeddings=emb,
        d_model=16,
    ).fit(cycles)
    assert g.id_len == 2 and g.id_of[1] == g.id_of[2]
    assert len(g.items_of) < N and sorted(i for v in g.items_of.values() for i in v) == list(range(1, N + 1))
    rec = g.recommend(cycles.history()[:3], 12)
    assert all(len(set(r.tolist())) == 12 for r in rec)


def test_no_valid_continuation_is_an_error(fitted):
    with pytest.raises(ValueError, match="no valid continuation"):
        fitted.trie(range(1, N + 1))


@pytest.mark.parametrize(
    "kwargs, match",
    [({"collisions": "random"}, "collisions must be"), ({"window": 0}, "window must be")],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GRID(**kwargs)


def test_wrong_embedding_count_is_named(cycles):
    with pytest.raises(ValueError, match="one embedding per item"):
        GRID(embeddings=torch.randn(5, 8), codebook_size=4, levels=1).fit(cycles)


def test_mean_pool_matches_a_loop():
    h = torch.randn(2, 4, 3)
    m = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    out = mean_pool(h, m)
    ref = torch.stack([h[0, :2].mean(0), h[1].mean(0)])
    assert torch.allclose(out, ref / ref.norm(dim=1, keepdim=True))
