"""Frame Representation Hypothesis (arXiv 2412.07334): word frames, concept frames, guided decoding."""

from __future__ import annotations

import pytest
import torch

from seqlab.decode import generate
from seqlab.models import SequenceModel
from seqlab.probe.frames import (
    concept_frame,
    concept_guided,
    concept_guided_hidden,
    frame_correlation,
    frame_rank,
    orthonormal_frame,
    pad_frame,
    text_concept_score,
    token_concept_scores,
    word_frame,
)
from seqlab.probe.frames_experiment import concept_words, load_frame_concepts, split_concepts

D = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _random_stiefel(d, k, gen):
    q, r = torch.linalg.qr(torch.randn(d, k, generator=gen, dtype=D))
    return q * torch.sign(torch.diagonal(r))


def test_word_frame_columns_are_the_token_vectors_in_order_and_rank_counts_independent_tokens():
    vectors = torch.randn(50, 8, generator=_gen(), dtype=D)
    F = word_frame(vectors, [7, 3, 11])
    assert F.shape == (8, 3)
    for j, t in enumerate([7, 3, 11]):
        torch.testing.assert_close(F[:, j], vectors[t])
    assert frame_rank(F) == 3
    assert frame_rank(word_frame(vectors, [7, 3, 7])) == 2  # a repeated token is not independent
    vectors[5] = 2 * vectors[4] - vectors[9]
    assert frame_rank(word_frame(vectors, [4, 9, 5])) == 2


def test_polar_frame_is_orthonormal_and_the_nearest_point_of_the_stiefel_manifold():
    gen = _gen(1)
    F = torch.randn(10, 3, generator=gen, dtype=D)
    Q = orthonormal_frame(F, "polar")
    torch.testing.assert_close(Q.T @ Q, torch.eye(3, dtype=D), atol=1e-12, rtol=0)
    best = (Q - F).norm()
    for _ in range(300):
        assert best <= (_random_stiefel(10, 3, gen) - F).norm() + 1e-12
    for _ in range(100):  # small rotations of Q inside the manifold never get closer
        A = 0.05 * torch.randn(10, 10, generator=gen, dtype=D)
        assert best <= (torch.matrix_exp(A - A.T) @ Q - F).norm() + 1e-12


def test_qr_frame_is_ordered_gram_schmidt():
    F = torch.randn(7, 3, generator=_gen(2), dtype=D)
    Q = orthonormal_frame(F, "qr")
    torch.testing.assert_close(Q.T @ Q, torch.eye(3, dtype=D), atol=1e-12, rtol=0)
    # plain Gram-Schmidt, column by column
    cols = []
    for j in range(3):
        v = F[:, j].clone()
        for c in cols:
            v = v - (c @ F[:, j]) * c
        cols.append(v / v.norm())
    torch.testing.assert_close(Q, torch.stack(cols, 1), atol=1e-10, rtol=0)


def test_concept_frame_is_the_extrinsic_frechet_mean_of_padded_word_frames():
    gen = _gen(3)
    frames = [torch.randn(9, int(k), generator=gen, dtype=D) for k in (3, 2, 3, 1, 3)]
    C = concept_frame(frames)
    assert C.shape == (9, 3)
    torch.testing.assert_close(C.T @ C, torch.eye(3, dtype=D), atol=1e-12, rtol=0)

    def cost(Q):  # plain loop over the words, zero columns for missing tokens
        total = 0.0
        for f in frames:
            padded = torch.zeros(9, 3, dtype=D)
            padded[:, : f.shape[1]] = f
            total += float(((Q - padded) ** 2).sum())
        return total

    best = cost(C)
    for _ in range(200):
        assert best <= cost(_random_stiefel(9, 3, gen)) + 1e-9
        A = 0.05 * torch.randn(9, 9, generator=gen, dtype=D)
        assert best <= cost(torch.matrix_exp(A - A.T) @ C) + 1e-9


def test_token_scores_are_the_window_correlations_of_a_padded_text():
    gen = _gen(4)
    vectors = torch.randn(30, 6, generator=gen, dtype=D)
    C = _random_stiefel(6, 3, gen)
    raw = token_concept_scores(vectors, C, standardise=False)
    for v in range(30):
        torch.testing.assert_close(raw[v], sum(C[:, j] @ vectors[v] for j in range(3)))
    ids = [4, 17, 2, 2, 29]
    X = torch.cat([torch.zeros(6, 2, dtype=D), vectors[ids].T, torch.zeros(6, 2, dtype=D)], 1)
    windows = sum(frame_correlation(C, X[:, t : t + 3]) for t in range(X.shape[1] - 2))
    assert windows == pytest.approx(float(raw[ids].sum()), abs=1e-10)
    z = token_concept_scores(vectors, C)
    assert float(z.mean()) == pytest.approx(0, abs=1e-12) and float(z.std()) == pytest.approx(1)
    batch = torch.tensor([ids, [1, 1, 1, 1, 1]])
    got = text_concept_score(z, batch)
    torch.testing.assert_close(got, torch.stack([z[ids].mean(), z[1]]))
    assert float(text_concept_score(z, batch, exclude=2)[0]) == pytest.approx(float(z[[4, 17, 29]].mean()))


def _tiny_lm():
    torch.manual_seed(0)
    return SequenceModel(mixer="gateloop", d_model=32, n_layers=2, vocab_size=20).eval()


def test_guided_decoding_with_weight_zero_or_top1_is_greedy():
    lm = _tiny_lm()
    prompt = torch.randint(0, 20, (3, 5), generator=_gen(5))
    scores = torch.randn(20, generator=_gen(6))
    greedy = generate(lm, prompt, "greedy", max_new_tokens=8, eos_token_id=None)
    opts = {"max_new_tokens": 8, "eos_token_id": None}
    assert torch.equal(concept_guided(lm, prompt, scores, weight=0.0, top_k=5, **opts), greedy)
    assert torch.equal(concept_guided(lm, prompt, scores, top_k=1, **opts), greedy)


def test_guided_decoding_equals_a_plain_loop_over_the_full_prefix():
    lm = _tiny_lm()
    prompt = torch.randint(0, 20, (2, 4), generator=_gen(7))
    scores = torch.randn(2, 20, generator=_gen(8))  # one concept per row
    for weight in (float("inf"), 0.7):
        got = concept_guided(lm, prompt, scores, top_k=4, weight=weight, max_new_tokens=6, eos_token_id=None)
        x = prompt
        with torch.no_grad():
            for _ in range(6):
                logp = lm(x)[:, -1].float().log_softmax(-1)
                nxt = []
                for b in range(2):
                    top = logp[b].topk(4).indices.tolist()
                    if weight == float("inf"):
                        values = [float(scores[b, v]) for v in top]
                    else:
                        values = [float(logp[b, v]) + weight * float(scores[b, v]) for v in top]
                    nxt.append(top[values.index(max(values))])
                x = torch.cat([x, torch.tensor(nxt)[:, None]], 1)
        assert torch.equal(got, x), weight
        assert all(float(scores[b, got[b, 4:]].mean()) > float(scores[b].mean()) for b in range(2))


def test_hidden_guided_decoding_equals_a_plain_loop_and_greedy_at_weight_zero():
    lm = _tiny_lm()
    prompt = torch.randint(0, 20, (2, 4), generator=_gen(10))
    direction = torch.randn(2, 32, generator=_gen(11))
    opts = {"max_new_tokens": 6, "eos_token_id": None}
    greedy = generate(lm, prompt, "greedy", **opts)
    assert torch.equal(concept_guided_hidden(lm, prompt, direction, weight=0.0, **opts), greedy)
    assert torch.equal(concept_guided_hidden(lm, prompt, direction, top_k=1, **opts), greedy)
    for weight in (float("inf"), 0.5):
        got = concept_guided_hidden(lm, prompt, direction, top_k=3, weight=weight, **opts)
        x = prompt
        with torch.no_grad():
            for _ in range(6):
                logp = lm(x)[:, -1].float().log_softmax(-1)
                nxt = []
                for b in range(2):
                    top = logp[b].topk(3).indices.tolist()
                    values = []
                    for v in top:  # the hidden state after appending v: a full forward of the longer prefix
                        h = lm.features(torch.cat([x[b : b + 1], torch.tensor([[v]])], 1))[0, -1]
                        score = float(h.double() @ direction[b].double())
                        values.append(score if weight == float("inf") else float(logp[b, v]) + weight * score)
                    nxt.append(top[values.index(max(values))])
                x = torch.cat([x, torch.tensor(nxt)[:, None]], 1)
        assert torch.equal(got, x), weight
    assert not lm.head._forward_pre_hooks  # the hook is removed


@pytest.mark.slow  # loads SmolLM2 (~10-30 s on a loaded 2-core CPU)
def test_guided_decoding_on_smollm2_weight_zero_is_greedy():
    from seqlab.lm import load

    lm = load("smollm2-135m")
    ids = torch.tensor([lm.tokenizer.encode("The weather today is")])
    scores = torch.randn(lm.vocab_size, generator=_gen(9))
    greedy = generate(lm, ids, "greedy", max_new_tokens=4, eos_token_id=None)
    got = concept_guided(lm, ids, scores, weight=0.0, max_new_tokens=4, eos_token_id=None)
    assert torch.equal(got, greedy)
    direction = torch.randn(lm.d_model, generator=_gen(10))
    hidden = concept_guided_hidden(
        lm, ids, direction, weight=0.0, top_k=3, max_new_tokens=4, eos_token_id=None
    )
    assert torch.equal(hidden, greedy)


def test_shipped_concepts_split_into_disjoint_halves_with_full_rank_frames():
    from seqlab.lm import load

    tok = load("smollm2-135m").tokenizer
    raw = load_frame_concepts()
    assert len(raw) == 10 and all(len(ws) >= 28 and len(set(ws)) == len(ws) for ws in raw.values())
    words = concept_words(tok, 2)
    guide, held = split_concepts(words, 2, _gen(0))
    for name, ws in words.items():
        a, b = guide[name], held[name]
        assert sorted(a + b) == sorted(ws) and not {tuple(w) for w in a} & {tuple(w) for w in b}
        assert any(len(w) == 2 for w in a) and any(len(w) == 2 for w in b)


def test_bad_input_is_refused_with_clear_errors():
    vectors = torch.randn(10, 4, dtype=D)
    with pytest.raises(ValueError, match="token ids must lie in"):
        word_frame(vectors, [3, 10])
    with pytest.raises(ValueError, match="at least one token"):
        word_frame(vectors, [])
    with pytest.raises(ValueError, match="expected token vectors"):
        word_frame(torch.randn(10), [1])
    with pytest.raises(ValueError, match="rank 1 < k = 2"):
        orthonormal_frame(word_frame(vectors, [2, 2]))
    with pytest.raises(ValueError, match="unknown method"):
        orthonormal_frame(torch.randn(4, 2, dtype=D), "svd")
    with pytest.raises(ValueError, match="does not fit"):
        pad_frame(torch.randn(4, 3), 2)
    with pytest.raises(ValueError, match="at least one word frame"):
        concept_frame([])
    with pytest.raises(ValueError, match="too few words of 2 tokens"):
        concept_frame([torch.randn(4, 1, dtype=D), torch.randn(4, 1, dtype=D)], k=2)
    with pytest.raises(ValueError, match="same shape"):
        frame_correlation(torch.randn(4, 2), torch.randn(4, 3))
    with pytest.raises(ValueError, match="dimension"):
        token_concept_scores(vectors, torch.randn(5, 2))
    lm = _tiny_lm()
    prompt = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="top_k must be an int >= 1"):
        concept_guided(lm, prompt, torch.zeros(20), top_k=0)
    with pytest.raises(ValueError, match="weight must be a number >= 0"):
        concept_guided(lm, prompt, torch.zeros(20), weight=-1.0)
    with pytest.raises(ValueError, match=r"concept_scores must be \(V,\) or \(B, V\)"):
        concept_guided(lm, prompt, torch.zeros(3, 20))
    with pytest.raises(ValueError, match=r"direction must be \(32,\) or \(2, 32\)"):
        concept_guided_hidden(lm, prompt, torch.zeros(5))
    with pytest.raises(ValueError, match="top_k must be an int >= 1"):
        concept_guided_hidden(lm, prompt, torch.zeros(32), top_k=0)
    with pytest.raises(ValueError, match="need >= 2 to split"):
        split_concepts({"x": [[1, 2], [3]]}, 2, _gen(0))
