import json

import pytest
import torch

from seqlab.tokenize.semantic_ids import PrefixTrie, SemanticIDs, disambiguate


def catalogue(n=400, dim=16, dupes=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(n, dim, generator=g)
    emb[n - dupes:] = emb[:dupes] + 1e-4 * torch.randn(dupes, dim, generator=g)  # near-duplicates collide
    return emb


def test_disambiguation_digit_ranks_within_collisions():
    raw = torch.tensor([[1, 2], [3, 4], [1, 2], [1, 2], [3, 4], [5, 6]])
    ids = disambiguate(raw)
    assert ids[:, -1].tolist() == [0, 0, 1, 2, 1, 0]
    assert len({tuple(r) for r in ids.tolist()}) == 6


@pytest.mark.parametrize("method,steps", [("residual-kmeans", 40), ("rq-vae", 60)])
def test_ids_are_unique_and_map_both_ways(method, steps):
    emb = catalogue()
    sid = SemanticIDs(levels=3, codebook_size=16, method=method, steps=steps, batch_size=256).fit(emb)
    rep = sid.report()
    assert rep["colliding_items"] >= 30  # the planted near-duplicates share a tuple
    assert rep["unique_tuple_rate"] < 1.0
    assert rep["max_disambiguation_digit"] >= 1
    assert all(1.0 <= rep[f"perplexity_{i}"] <= 16.0 for i in range(3))
    ids = sid.encode(torch.arange(400))
    assert ids.shape == (400, 4) and len({tuple(r) for r in ids.tolist()}) == 400
    assert torch.equal(sid.decode(ids), torch.arange(400))


def test_save_load_round_trip_and_malformed_files(tmp_path):
    sid = SemanticIDs(levels=2, codebook_size=8, steps=20, batch_size=128).fit(catalogue(100, 8, 10))
    sid.save(tmp_path / "m")
    back = SemanticIDs.load(tmp_path / "m")
    assert torch.equal(back.ids, sid.ids) and back.report() == sid.report()
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["semantic_ids.json", "semantic_ids.safetensors"]  # no temp files left behind
    meta = json.loads((tmp_path / "m" / "semantic_ids.json").read_text())
    meta["levels"] = 3
    (tmp_path / "m" / "semantic_ids.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="malformed"):
        SemanticIDs.load(tmp_path / "m")
    (tmp_path / "m" / "semantic_ids.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(ValueError, match="malformed"):
        SemanticIDs.load(tmp_path / "m")
    with pytest.raises(ValueError, match="no semantic-ID mapping"):
        SemanticIDs.load(tmp_path / "missing")


def test_undecodable_ids_and_bad_input_fail_clearly():
    sid = SemanticIDs(levels=2, codebook_size=8, steps=20, batch_size=128).fit(catalogue(100, 8, 10))
    with pytest.raises(ValueError, match="names no item"):
        sid.decode(torch.tensor([[7, 7, 99]]))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        sid.decode(torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="item indices"):
        sid.encode(torch.tensor([100]))
    with pytest.raises(ValueError, match="at least codebook_size"):
        SemanticIDs(codebook_size=256).fit(torch.randn(50, 8))
    with pytest.raises(ValueError, match="finite"):
        SemanticIDs(codebook_size=4).fit(torch.full((10, 8), float("nan")))
    with pytest.raises(ValueError, match="method"):
        SemanticIDs(method="pq")
    with pytest.raises(ValueError, match="fit"):
        SemanticIDs().decode(torch.tensor([[0, 0, 0, 0]]))


def test_prefix_trie_lists_exactly_the_valid_continuations():
    sid = SemanticIDs(levels=2, codebook_size=8, steps=20, batch_size=128).fit(catalogue(100, 8, 10))
    ids = sid.ids.tolist()
    trie = sid.trie()
    assert len(trie) == 100
    assert trie.next_tokens([]) == sorted({r[0] for r in ids})
    first = ids[0]
    assert trie.next_tokens(first[:1]) == sorted({r[1] for r in ids if r[0] == first[0]})
    assert trie.next_tokens(first[:2]) == sorted({r[2] for r in ids if r[:2] == first[:2]})
    assert trie.next_tokens(first) == []  # complete
    mask = trie.allowed_mask(first[:1], 8)
    assert mask.sum() == len(trie.next_tokens(first[:1]))
    small = PrefixTrie([[0, 1], [0, 2], [3, 0]])
    assert small.next_tokens([0]) == [1, 2] and small.next_tokens([5]) == [] and not small.is_prefix([5])


@pytest.mark.parametrize("method", ["residual-kmeans", "rq-vae"])
def test_same_seed_same_ids(method):
    emb = catalogue(120, 8, 10)
    a = SemanticIDs(2, 8, method, seed=3, steps=15, batch_size=64).fit(emb)
    b = SemanticIDs(2, 8, method, seed=3, steps=15, batch_size=64).fit(emb)
    assert torch.equal(a.ids, b.ids)
