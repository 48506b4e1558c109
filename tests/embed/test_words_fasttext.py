"""fastText: n-gram extraction and hashing (against gensim's), subword composition, unseen words, I/O."""

import math

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


def test_input_vector_is_mean_of_word_and_ngram_vectors():
    m = FastText(vector_size=6, window=2, negative=2, min_count=1, epochs=1, bucket=97, seed=0).fit(
        _corpus(20)
    )
    i = m.key_to_index["walked"]
    ids = torch.tensor(ngram_buckets("walked", 3, 6, 97))
    want = (m.w_in[i] + m.ngrams[ids].sum(0)) / (1 + len(ids))
    assert torch.allclose(m.vectors[i], want, atol=1e-6)


def _reference_step(w_in, ngrams, w_out, word, grams, target, negatives, lr):
    """fastText's Model::update for one (input word, target) pair, written as a plain loop over rows."""
    rows = [w_in[word]] + [ngrams[g] for g in grams]
    h = [sum(r[k] for r in rows) / len(rows) for k in range(len(w_in[word]))]
    e = [0.0] * len(h)
    for o, label in [(target, 1.0)] + [(n, 0.0) for n in negatives]:
        if label == 0.0 and o == target:
            continue
        u = w_out[o]
        score = sum(a * b for a, b in zip(u, h))
        g = lr * (label - 1.0 / (1.0 + math.exp(-score)))
        e = [a + g * b for a, b in zip(e, u)]
        w_out[o] = [a + g * b for a, b in zip(u, h)]
    w_in[word] = [a + b for a, b in zip(w_in[word], e)]
    for gram in grams:  # every occurrence gets the whole step: no division by the number of rows
        ngrams[gram] = [a + b for a, b in zip(ngrams[gram], e)]


def test_update_gives_every_input_row_the_whole_step_as_fasttext_does():
    """One skip-gram pair through the model's own step functions == fastText's update as a plain loop.

    The exact gradient of the mean (each row's step divided by 1 + |G(w)|) fails this test: it is what made
    seqlab's one-epoch WordSim353 Spearman negative where gensim's is positive.
    """
    from seqlab.embed.vocab import draw_negatives

    m = FastText(vector_size=5, window=2, negative=4, min_count=1, epochs=1, bucket=31, seed=0).fit(
        _corpus(20)
    )
    m.w_out.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))  # non-trivial output vectors
    word, target = m.key_to_index["walked"], m.key_to_index["cooks"]
    grams = ngram_buckets("walked", 3, 6, 31)
    assert len(grams) > len(set(grams))  # 31 buckets: some n-grams collide, and each occurrence counts
    cum = m.vocab.negative_table(m.ns_exponent)
    negatives = draw_negatives(cum, (1, m.negative), torch.Generator().manual_seed(2))[0].tolist()
    # distinct noise words (a batch gathers each output row once), one of them the target (skipped)
    assert len(set(negatives)) == len(negatives) and target in negatives
    ref = [t.double().tolist() for t in (m.w_in, m.ngrams, m.w_out)]
    ref_in, ref_ng, ref_out = ({i: r for i, r in enumerate(t)} for t in ref)
    _reference_step(ref_in, ref_ng, ref_out, word, grams, target, negatives, lr=0.05)

    words = torch.tensor([word])
    h = m._input_vectors(words)
    grad, _ = m._output_step(h, torch.tensor([target]), cum, torch.Generator().manual_seed(2), 0.05, False)
    m._add_to_inputs(words, grad)
    for got, want in ((m.w_in, ref_in), (m.ngrams, ref_ng), (m.w_out, ref_out)):
        assert torch.allclose(
            got.double(), torch.tensor([want[i] for i in range(len(want))], dtype=torch.double), atol=1e-6
        )
    assert not torch.allclose(
        m.w_in[word].double(), torch.tensor(ref[0][word], dtype=torch.double), atol=1e-4
    )  # it moved


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
