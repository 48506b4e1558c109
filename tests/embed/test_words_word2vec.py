"""word2vec: window pairs, the negative-sampling step vs autograd, training, API, save/load, bad input."""

import json

import pytest
import torch

from seqlab.embed.word2vec import Word2Vec, sgns_step, window_contexts, window_pairs
from seqlab.registry import create, names


def toy_corpus(seed=0, n=300, length=12):
    """Two topics: words of one topic co-occur in a sentence, never with the other's."""
    g = torch.Generator().manual_seed(seed)
    topics = [[f"a{i}" for i in range(6)], [f"b{i}" for i in range(6)]]
    out = []
    for k in range(n):
        t = topics[k % 2]
        out.append([t[j] for j in torch.randint(0, 6, (length,), generator=g).tolist()])
    return out


def test_window_pairs_match_a_plain_loop():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    sid = torch.tensor([0] * 7 + [1] * 5 + [2] * 1)
    centers, contexts = window_pairs(sid, 3, g1)
    b = torch.randint(1, 4, (len(sid),), generator=g2).tolist()
    want = set()
    for i in range(len(sid)):
        for j in range(len(sid)):
            if i != j and abs(i - j) <= b[i] and sid[i] == sid[j]:
                want.add((i, j))
    got = list(zip(centers.tolist(), contexts.tolist()))
    assert len(got) == len(set(got)) and set(got) == want


def test_window_contexts_match_a_plain_loop():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    sid = torch.tensor([0] * 6 + [1] * 4)
    ctx, _ = window_contexts(sid, 2, g1)
    b = torch.randint(1, 3, (len(sid),), generator=g2).tolist()
    for i in range(len(sid)):
        want = {j for j in range(len(sid)) if j != i and abs(i - j) <= b[i] and sid[i] == sid[j]}
        assert {j for j in ctx[i].tolist() if j >= 0} == want


def test_sgns_step_is_sgd_on_the_negative_sampling_objective():
    g = torch.Generator().manual_seed(0)
    w_in, w_out = torch.randn(10, 4, generator=g), torch.randn(10, 4, generator=g)
    inputs, targets = torch.tensor([1, 2, 1]), torch.tensor([3, 4, 3])
    neg = torch.tensor([[5, 6], [3, 4], [7, 3]])  # row 1 has a negative equal to its target: ignored
    lr = 0.1
    # autograd on the objective: sum log σ(u_t·h) + Σ_valid log σ(-u_n·h)
    wi, wo = w_in.clone().requires_grad_(), w_out.clone().requires_grad_()
    obj = 0
    for b in range(3):
        h = wi[inputs[b]]
        obj = obj + torch.nn.functional.logsigmoid(wo[targets[b]] @ h)
        for n in neg[b].tolist():
            if n != targets[b]:
                obj = obj + torch.nn.functional.logsigmoid(-(wo[n] @ h))
    obj.backward()
    new_out = w_out.clone()
    grad_h, loss = sgns_step(w_in, new_out, inputs, targets, neg, lr, with_loss=True)
    assert loss == pytest.approx(-obj.item(), rel=1e-5)
    assert torch.allclose(new_out, w_out + lr * wo.grad, atol=1e-6)
    gi = torch.zeros_like(w_in).index_put_((inputs,), grad_h, accumulate=True)
    assert torch.allclose(gi, lr * wi.grad, atol=1e-6)


@pytest.mark.parametrize("sg", [True, False])
def test_training_separates_topics(sg):
    m = Word2Vec(
        sg=sg, vector_size=16, window=3, negative=3, min_count=1, epochs=5, sample=0, seed=0, batch_size=256
    )
    m.fit(toy_corpus())
    within = sum(m.similarity(f"a{i}", f"a{(i + 1) % 6}") for i in range(6)) / 6
    across = sum(m.similarity(f"a{i}", f"b{i}") for i in range(6)) / 6
    assert within > across + 0.3, (within, across)
    top = [w for w, _ in m.most_similar("a0", topn=5)]
    assert all(w.startswith("a") for w in top) and "a0" not in top
    assert m.stats["loss"][-1] < m.stats["loss"][0]


def test_registry_api_encode_and_errors():
    assert {"word2vec", "fasttext"} <= set(names("embedder"))
    m = create(
        "embedder", "word2vec", sg=True, vector_size=8, window=2, negative=2, min_count=2, epochs=1, seed=0
    )
    corpus = toy_corpus(n=40)
    m.fit(corpus)
    assert set(m.key_to_index) == {f"a{i}" for i in range(6)} | {f"b{i}" for i in range(6)}
    assert m.vectors.shape == (12, 8)
    e = m.encode(["a1", ["a1", "a2", "unknown"]])
    assert e.shape == (2, 8)
    assert torch.allclose(e[0], m["a1"]) and torch.allclose(e[1], (m["a1"] + m["a2"]) / 2)
    with pytest.raises(KeyError, match="'zebra'"):
        m.similarity("a1", "zebra")
    with pytest.raises(KeyError, match="none of its tokens"):
        m.encode([["x", "y"]])
    with pytest.raises(TypeError, match="re-iterable"):
        Word2Vec(min_count=1).fit(iter(corpus))
    with pytest.raises(ValueError, match="empty corpus"):
        Word2Vec(min_count=1).fit([[]])
    with pytest.raises(ValueError, match="leaves no vocabulary"):
        Word2Vec(min_count=1000).fit(corpus)
    with pytest.raises(ValueError, match="vector_size"):
        Word2Vec(vector_size=0)
    with pytest.raises(RuntimeError, match="not trained"):
        Word2Vec().similarity("a", "b")


def test_same_seed_same_vectors():
    kw = dict(vector_size=8, window=2, negative=2, min_count=1, epochs=1, seed=4)
    a, b = Word2Vec(**kw).fit(toy_corpus(n=30)), Word2Vec(**kw).fit(toy_corpus(n=30))
    assert torch.equal(a.vectors, b.vectors)


def test_save_load_roundtrip_and_bad_files(tmp_path):
    m = Word2Vec(vector_size=8, window=2, negative=2, min_count=1, epochs=1, seed=0).fit(toy_corpus(n=30))
    m.save(tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]
    back = Word2Vec.load(tmp_path / "m")
    assert back.index_to_key == m.index_to_key and torch.equal(back.vectors, m.vectors)
    assert back.similarity("a0", "a1") == pytest.approx(m.similarity("a0", "a1"))
    # mismatched dims: the config says 16 dims, the tensors hold 8
    meta = json.loads((tmp_path / "m.json").read_text())
    meta["config"]["vector_size"] = 16
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="expected \\(12, 16\\)"):
        Word2Vec.load(tmp_path / "m")
    # corrupt tensor file
    m.save(tmp_path / "c")
    blob = (tmp_path / "c.safetensors").read_bytes()
    (tmp_path / "c.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        Word2Vec.load(tmp_path / "c")
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Word2Vec.load(tmp_path / "c")
    with pytest.raises(FileNotFoundError):
        Word2Vec.load(tmp_path / "missing")
    # NaN vectors are refused and nothing is written
    m.w_in[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        m.save(tmp_path / "nan")
    assert not list(tmp_path.glob("nan*")) and not list(tmp_path.glob(".nan*"))


def test_diverging_training_raises():
    with pytest.raises(ValueError, match="diverged"):
        Word2Vec(vector_size=8, window=2, negative=2, min_count=1, epochs=2, alpha=1e30, seed=0).fit(
            toy_corpus(n=30)
        )


def test_shared_negatives_step_matches_autograd():
    from seqlab.embed.word2vec import sgns_step_shared

    g = torch.Generator().manual_seed(1)
    w_out = torch.randn(12, 4, generator=g)
    h = torch.randn(5, 4, generator=g)
    targets = torch.tensor([1, 2, 3, 4, 5])
    neg = torch.tensor(
        [[6, 2], [7, 8], [5, 9]]
    )  # group 2: rows 0-1, 2-3, 4; row 1's target 2 is a noise word
    lr = 0.05
    hh, wo = h.clone().requires_grad_(), w_out.clone().requires_grad_()
    obj = 0
    for b in range(5):
        obj = obj + torch.nn.functional.logsigmoid(wo[targets[b]] @ hh[b])
        for n in neg[b // 2].tolist():
            if n != targets[b]:
                obj = obj + torch.nn.functional.logsigmoid(-(wo[n] @ hh[b]))
    obj.backward()
    new = w_out.clone()
    grad_h = sgns_step_shared(new, h, targets, neg, lr, 2)
    assert torch.allclose(new, w_out + lr * wo.grad, atol=1e-6)
    assert torch.allclose(grad_h, lr * hh.grad, atol=1e-6)
    m = Word2Vec(
        vector_size=16, window=3, negative=3, min_count=1, epochs=5, sample=0, seed=0, shared_negatives=8
    )
    m.fit(toy_corpus())
    assert m.similarity("a0", "a1") > m.similarity("a0", "b0") + 0.3
