"""fastText: n-gram extraction and hashing (against gensim's), subword composition, unseen words, I/O."""

import pytest
import torch

from seqlab.embed.fasttext import FastText, char_ngrams, fnv1a_32, ngram_buckets


def test_ngrams_and_hash_match_gensim():
    from gensim.models.fasttext import compute_ngrams
    from gensim.models.fasttext_inner import ft_hash_bytes

    for w in ["where", "naïve", "日本語", "a"]:
        grams = char_ngrams(w, 3, 6)
        assert sorted(grams) == sorted(compute_ngrams(w, 3, 6))
        for gram in grams:
            assert fnv1a_32(gram.encode()) == ft_hash_bytes(gram.encode())
    assert char_ngrams("ab", 3, 4) == ["<ab", "<ab>", "ab>"]
    # FNV-1a by hand on one ASCII byte: (2166136261 ^ 97) * 16777619 mod 2^32
    assert fnv1a_32(b"a") == ((2166136261 ^ 97) * 16777619) % 2**32
    assert ngram_buckets("where", 3, 3, 7) == [
        fnv1a_32(g.encode()) % 7 for g in ["<wh", "whe", "her", "ere", "re>"]
    ]


def _corpus(n=200):
    g = torch.Generator().manual_seed(0)
    groups = [["walking", "walked", "walker", "walks"], ["cooking", "cooked", "cooker", "cooks"]]
    return [[groups[k % 2][j] for j in torch.randint(0, 4, (10,), generator=g).tolist()] for k in range(n)]


def test_input_vector_is_mean_of_word_and_ngram_vectors_and_grad_split():
    m = FastText(vector_size=6, window=2, negative=2, min_count=1, epochs=1, bucket=97, seed=0).fit(
        _corpus(20)
    )
    i = m.key_to_index["walked"]
    ids = torch.tensor(ngram_buckets("walked", 3, 6, 97))
    want = (m.w_in[i] + m.ngrams[ids].sum(0)) / (1 + len(ids))
    assert torch.allclose(m.vectors[i], want, atol=1e-6)
    # gradient split: autograd through the composition
    w_in, ngr = m.w_in.clone(), m.ngrams.clone()
    a, b = w_in.clone().requires_grad_(), ngr.clone().requires_grad_()
    h = (a[i] + b[ids].sum(0)) / (1 + len(ids))
    g = torch.randn(6)
    (h @ g).backward()
    m._add_to_inputs(torch.tensor([i]), g[None])
    assert torch.allclose(m.w_in - w_in, a.grad, atol=1e-6)
    assert torch.allclose(m.ngrams - ngr, b.grad, atol=1e-6)


def test_unseen_words_get_subword_vectors():
    m = FastText(vector_size=16, window=2, negative=3, min_count=1, epochs=5, bucket=5000, seed=0, sample=0)
    m.fit(_corpus())
    assert "walkings" not in m
    v = m.get_vector("walkings")
    ids = torch.tensor(ngram_buckets("walkings", 3, 6, 5000))
    assert torch.allclose(v, m.ngrams[ids].mean(0))
    assert m.similarity("walkings", "walking") > m.similarity("walkings", "cooking")
    assert m.encode([["walkings", "walked"]]).shape == (1, 16)
    with pytest.raises(KeyError, match="empty word"):
        m.get_vector("")


def test_fasttext_save_load(tmp_path):
    m = FastText(vector_size=6, window=2, negative=2, min_count=1, epochs=1, bucket=50, seed=0).fit(
        _corpus(20)
    )
    m.save(tmp_path / "ft")
    back = FastText.load(tmp_path / "ft")
    assert torch.allclose(back.vectors, m.vectors) and torch.allclose(back["unseenword"], m["unseenword"])
    with pytest.raises(ValueError, match="holds a FastText"):
        from seqlab.embed.word2vec import Word2Vec

        Word2Vec.load(tmp_path / "ft")
    with pytest.raises(ValueError, match="maxn"):
        FastText(minn=5, maxn=3)
