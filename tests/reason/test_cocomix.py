"""CoCoMix (arXiv 2502.08524): the TopK SAE, attribution, concept selection, the student's mixing."""

import math

import pytest
import torch

from seqlab.experiments.cell import get_experiment
from seqlab.ops.sae import TopKSAE, fit_sae, topk_relu
from seqlab.reason.cocomix import CoCoMixLM, attribution, select_concepts
from seqlab.reason.cocomix_experiments import compact_vocab, unigram_loss


def test_topk_relu_matches_a_plain_loop():
    x = torch.randn(5, 9, generator=torch.Generator().manual_seed(0))
    got = topk_relu(x, 3)
    for i in range(5):
        row = x[i].tolist()
        keep = sorted(range(9), key=lambda j: -row[j])[:3]
        want = [max(row[j], 0.0) if j in keep else 0.0 for j in range(9)]
        assert got[i].tolist() == pytest.approx(want)
    with pytest.raises(ValueError, match="k must"):
        topk_relu(x, 10)


def test_sae_codes_are_k_sparse_and_reconstruct_sparse_data():
    g = torch.Generator().manual_seed(1)
    d, m, n = 16, 24, 600
    D = torch.randn(d, m, generator=g)
    D = D / D.norm(dim=0)
    s = torch.zeros(n, m)
    for i in range(n):  # 2 active dictionary atoms per sample, positive sizes
        s[i, torch.randperm(m, generator=g)[:2]] = torch.rand(2, generator=g) + 0.5
    x = s @ D.t() + 0.3
    sae, fit = fit_sae(x, m, 4, steps=400, lr=1e-2, seed=0)
    z = sae.encode(x).detach()
    assert int((z > 0).sum(-1).max()) <= 4 and float(z.min()) >= 0
    assert torch.allclose(sae.W_dec.norm(dim=0), torch.ones(m), atol=1e-5)
    untrained = TopKSAE(d, m, 4)
    with torch.no_grad():
        untrained.b_dec.copy_(x.mean(0))
        base = float(((x - untrained(x)[0]) ** 2).sum(-1).mean() / ((x - x.mean(0)) ** 2).sum(-1).mean())
    assert fit["fvu"] < 0.25 < base
    with pytest.raises(ValueError, match="k=5 exceeds"):
        TopKSAE(4, 4, 5)
    with pytest.raises(ValueError, match="activations"):
        sae.encode(torch.zeros(3, 5))


def test_attribution_is_the_gradient_through_the_decoder_times_the_code():
    torch.manual_seed(0)
    sae = TopKSAE(6, 10, 3)
    acts, w = torch.randn(4, 6), torch.randn(4, 6)  # objective l_t = w_t . x_hat_t: gradient w_t
    z = sae.encode(acts).detach().requires_grad_(True)
    (w * sae.decode(z)).sum().backward()
    assert torch.allclose(attribution(sae, acts, w), z.detach() * z.grad, atol=1e-6)
    scores = torch.tensor([[0.1, 0.9, -2.0, 0.5], [3.0, 0.0, 1.0, 2.0]])
    assert select_concepts(scores, 2).tolist() == [[1, 3], [0, 3]]
    with pytest.raises(ValueError, match="must match"):
        attribution(sae, acts, w[:, :3])


def student(mode="cocomix"):
    torch.manual_seed(0)
    return CoCoMixLM(20, 12, d_model=16, n_layers=2, n_heads=2, concept_layer=1, k=3, mode=mode)


def test_the_student_is_causal_and_the_concept_vector_reaches_the_output():
    m = student()
    ids = torch.randint(20, (2, 7), generator=torch.Generator().manual_seed(0))
    logits, z = m(ids)
    assert logits.shape == (2, 7, 20) and z.shape == (2, 7, 12)
    other = ids.clone()
    other[:, 4:] = (other[:, 4:] + 1) % 20
    assert torch.allclose(m(other)[0][:, :4], logits[:, :4], atol=1e-5)  # no peeking at later tokens
    assert not torch.allclose(m(other)[0][:, 4:], logits[:, 4:])
    with torch.no_grad():
        m.compress.weight.zero_()
        m.compress.bias.zero_()
    assert not torch.allclose(m(ids)[0], logits)  # the interleaved concept vector changes predictions
    plain_logits, none = student("plain")(ids)
    assert none is None and plain_logits.shape == (2, 7, 20)


def test_the_losses_follow_their_formulas():
    m = student()
    ids = torch.randint(20, (2, 6), generator=torch.Generator().manual_seed(2))
    concepts = torch.randint(12, (2, 5, 2), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = m.loss(ids, concepts, lam=0.5)
        logits, z = m(ids)
    lm = -torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).mean()
    cl = -torch.log_softmax(z[:, :-1], -1).gather(-1, concepts).mean()
    assert float(out["lm"]) == pytest.approx(float(lm), rel=1e-5)
    assert float(out["total"]) == pytest.approx(float(lm + 0.5 * cl), rel=1e-5)
    with pytest.raises(ValueError, match="selected concepts"):
        m.loss(ids)
    assert float(student("plain").loss(ids)["concept"]) == 0.0


def test_bad_students_are_refused():
    with pytest.raises(ValueError, match="mode"):
        CoCoMixLM(10, 8, mode="magic")
    with pytest.raises(ValueError, match="concept_layer"):
        CoCoMixLM(10, 8, n_layers=2, concept_layer=2)
    with pytest.raises(ValueError, match="k must"):
        CoCoMixLM(10, 8, k=9)


def test_vocabulary_and_unigram_baseline():
    train, test = torch.tensor([5, 9, 9, 7]), torch.tensor([9, 11, 5])
    a, b, v = compact_vocab(train, test)
    assert a.tolist() == [1, 3, 3, 2] and b.tolist() == [3, 0, 1] and v == 4
    # add-one counts: UNK 1, 5 -> 2, 7 -> 2, 9 -> 3 (total 8)
    want = -(math.log(3 / 8) + math.log(1 / 8) + math.log(2 / 8)) / 3
    assert unigram_loss(a, b, v) == pytest.approx(want)


@pytest.mark.slow
def test_the_cocomix_cell_runs_on_smollm2_signals():
    pytest.importorskip("transformers")
    out = get_experiment("reason.cocomix")(
        {
            "n_tokens": 128,
            "heldout": 64,
            "layer": 15,
            "steps": 2,
            "ctx": 16,
            "batch_size": 2,
            "n_latents": 32,
            "sae_k": 4,
            "sae_steps": 5,
            "mix_k": 4,
            "d_model": 16,
            "n_heads": 2,
        },
        0,
    )
    assert out["sae_l0"] <= 4 and 0 < out["sae_fvu"]
    for arm in ("plain", "cocomix"):
        assert math.isfinite(out[arm]["heldout_loss"]) and out[arm]["heldout_loss"] > 0
