"""Sent2Vec: features, the whole-sentence-context update against autograd, encoding, I/O."""

import pytest
import torch

from seqlab.embed.sent2vec import Sent2Vec, bigram_rows
from seqlab.embed.vocab import draw_negatives, negative_table


def toy_corpus(seed=0, n=300, length=12):
    """Two topics: words of one topic co-occur in a sentence, never with the other's."""
    g = torch.Generator().manual_seed(seed)
    topics = [[f"a{i}" for i in range(6)], [f"b{i}" for i in range(6)]]
    return [
        [topics[k % 2][j] for j in torch.randint(0, 6, (length,), generator=g).tolist()] for k in range(n)
    ]


def test_features_are_unigrams_then_hashed_bigrams():
    m = Sent2Vec(min_count=1, bucket=11, epochs=1, vector_size=4).fit([["a", "b", "c"]])
    ids = [m.key_to_index[w] for w in ["a", "b", "c"]]
    assert m.features(ids) == ids + [
        3 + (ids[0] * 116049371 + ids[1]) % 11,
        3 + (ids[1] * 116049371 + ids[2]) % 11,
    ]
    assert bigram_rows([1], 3, 11) == []
    assert m.w_in.shape == (3 + 11, 4)


def test_batch_update_matches_autograd_of_the_objective():
    m = Sent2Vec(min_count=1, bucket=7, epochs=1, vector_size=5, sample=0, negative=3, seed=0, dropout_k=0)
    m.fit([["a", "b", "c", "d"], ["b", "c"]])
    batch = [[0, 1, 2, 3], [1, 2], [3]]
    w_in, w_out = m.w_in.clone(), m.w_out.clone()
    keep = torch.ones(4)
    cum = negative_table(m.vocab.counts, 0.5)
    lr = 0.1
    m._train_batch(batch, keep, cum, torch.Generator().manual_seed(9), lr)
    # replay the same draws
    gen = torch.Generator().manual_seed(9)
    n_targets = 4 + 2
    torch.rand(n_targets, generator=gen)
    neg = draw_negatives(cum, (n_targets, 3), gen)
    a, b = w_in.clone().requires_grad_(), w_out.clone().requires_grad_()
    obj, k = 0, 0
    for ids in batch[:2]:
        feats = m.features(ids)
        for j, t in enumerate(ids):
            ctx = feats[:j] + feats[j + 1 :]
            h = a[ctx].mean(0)
            obj = obj + torch.nn.functional.logsigmoid(b[t] @ h)
            for n in neg[k].tolist():
                if n != t:
                    obj = obj + torch.nn.functional.logsigmoid(-(b[n] @ h))
            k += 1
    obj.backward()
    assert torch.allclose(m.w_out, w_out + lr * b.grad, atol=1e-6)
    assert torch.allclose(m.w_in, w_in + lr * a.grad, atol=1e-6)


def test_sentence_embeddings_separate_topics_and_roundtrip(tmp_path):
    m = Sent2Vec(vector_size=16, negative=3, min_count=1, epochs=5, sample=0, alpha=0.05, bucket=200, seed=0)
    m.fit(toy_corpus(n=200))
    e = m.encode([["a0", "a1", "a2"], ["a3", "a4", "a5"], ["b0", "b1", "b2"]])
    e = e / e.norm(dim=1, keepdim=True)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2]) + 0.05
    m.save(tmp_path / "s2v")
    back = Sent2Vec.load(tmp_path / "s2v")
    assert torch.allclose(back.encode([["a0", "a1"]]), m.encode([["a0", "a1"]]))
    with pytest.raises(KeyError, match="none of its tokens"):
        m.encode([["zzz"]])
    with pytest.raises(ValueError, match="word_ngrams"):
        Sent2Vec(word_ngrams=3)
