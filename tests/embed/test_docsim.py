import math

import numpy as np
import pytest
import torch

from seqlab.embed.docsim import (
    cosine_matrix,
    lee_background,
    lee_correlation,
    load_lee,
    pearson,
    ranks,
    sentences,
    spearman,
    upper_pairs,
    words,
)


def test_lee_files_are_read_as_50_documents_with_a_symmetric_rating_matrix():
    lee = load_lee()
    assert len(lee.documents) == 50
    assert lee.ratings.shape == (50, 50)
    assert torch.equal(lee.ratings, lee.ratings.T)
    assert torch.all(lee.ratings.diagonal() == 1)
    off = upper_pairs(lee.ratings)
    assert off.numel() == 1225 and 0 <= float(off.min()) and float(off.max()) <= 1
    assert len(lee_background()) == 300


def test_ranks_average_ties_and_match_a_plain_definition():
    x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0]
    r = ranks(x).tolist()
    for i, xi in enumerate(x):  # rank = #smaller + (#equal + 1) / 2
        smaller = sum(v < xi for v in x)
        equal = sum(v == xi for v in x)
        assert r[i] == smaller + (equal + 1) / 2


def test_pearson_and_spearman_against_numpy_and_the_rank_formula():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, generator=g)
    y = 0.5 * x + torch.randn(200, generator=g)
    assert math.isclose(pearson(x, y), float(np.corrcoef(x.numpy(), y.numpy())[0, 1]), rel_tol=1e-9)
    # no ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1))
    d = ranks(x) - ranks(y)
    n = 200
    assert math.isclose(spearman(x, y), 1 - 6 * float(d.square().sum()) / (n * (n * n - 1)), rel_tol=1e-9)
    assert spearman(x, torch.exp(x)) == pytest.approx(1.0)


def test_cosine_matrix_and_bad_inputs():
    e = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    c = cosine_matrix(e)
    assert c[0, 1] == pytest.approx(0.0) and c[0, 2] == pytest.approx(1 / math.sqrt(2))
    with pytest.raises(ValueError, match="zero vector"):
        cosine_matrix(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        cosine_matrix(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="constant"):
        pearson([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="one embedding per Lee document"):
        lee_correlation(torch.randn(49, 4))


def test_lee_correlation_of_the_ratings_themselves_is_perfect_and_random_is_near_zero():
    lee = load_lee()
    # rows of the (positive definite after a shift) rating matrix' square root reproduce its cosines
    m = lee.ratings + 50 * torch.eye(50, dtype=torch.float64)
    vals, vecs = torch.linalg.eigh(m)
    emb = vecs * vals.sqrt()  # emb @ emb.T == m, and m's diagonal is constant, so cosine = m / 51
    r = lee_correlation(emb)
    # Spearman just below 1: rounding splits the many tied ratings
    assert r["pearson"] == pytest.approx(1.0) and r["spearman"] > 0.99 and r["pairs"] == 1225
    rnd = lee_correlation(torch.randn(50, 64, generator=torch.Generator().manual_seed(1)))
    assert abs(rnd["spearman"]) < 0.15
    sub = [3, 7, 11, 20]
    assert lee_correlation(emb[sub], index=sub)["pearson"] == pytest.approx(1.0)


def test_words_and_sentences():
    assert words("The U.S. isn't 42 Dogs' home!") == ["the", "u", "s", "isn't", "42", "dogs", "home"]
    assert sentences("One two. Three? Four! ") == ["One two.", "Three?", "Four!"]
    with pytest.raises(ValueError, match="string"):
        words(3)


@pytest.mark.slow
def test_the_embed_models_section_of_docs_embed_md_runs():
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "embed.md").read_text()
    section = text.split("## Sentence and document embeddings from models", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/embed.md", "exec"), {})
