"""Contrastive training with CLS / mean / LMK pooling: layout, pooling vs a direct mean, loss, training."""

import pytest
import torch

from seqlab.embed.lmk_train import (
    CLS,
    LMK,
    SHIFT,
    ContrastiveEncoder,
    evidence_pairs,
    info_nce,
    retrieval_accuracy,
    train_contrastive,
)


def test_layout_places_landmarks_and_weights():
    content = torch.tensor([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
    enc = ContrastiveEncoder(vocab=10, pooling="lmk", every=2, d=16, layers=1, heads=2)
    ids, w = enc.layout(content)
    assert ids[0].tolist() == [CLS, 3, 4, LMK, 5, 6, LMK, 7, LMK]
    assert torch.allclose(w[0], (ids[0] == LMK).float() / 3)
    ids, w = ContrastiveEncoder(vocab=10, pooling="cls", d=16, layers=1, heads=2).layout(content)
    assert ids[1].tolist() == [CLS] + [x + SHIFT for x in range(5, 10)] and w[:, 0].tolist() == [1.0, 1.0]
    _, w = ContrastiveEncoder(vocab=10, pooling="mean", d=16, layers=1, heads=2).layout(content)
    assert torch.allclose(w, torch.full((2, 6), 1 / 6))


@pytest.mark.parametrize("pooling", ["cls", "mean", "lmk"])
def test_embedding_is_the_pooled_states(pooling):
    torch.manual_seed(0)
    enc = ContrastiveEncoder(vocab=10, pooling=pooling, every=3, d=16, layers=1, heads=2).eval()
    content = torch.randint(0, 10, (3, 7))
    ids, _ = enc.layout(content)
    h = enc.model.features(ids)
    if pooling == "cls":
        want = h[:, 0]
    elif pooling == "mean":
        want = h.mean(1)
    else:
        want = torch.stack([h[i][ids[i] == LMK].mean(0) for i in range(3)])
    assert torch.allclose(enc(content), torch.nn.functional.normalize(want, dim=-1), atol=1e-6)


def test_info_nce_matches_a_plain_loop():
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(4, 5, generator=g), dim=-1)
    p = torch.nn.functional.normalize(torch.randn(4, 5, generator=g), dim=-1)
    total = 0.0
    for i in range(4):
        row = torch.tensor([float(q[i] @ p[j]) / 0.1 for j in range(4)])
        col = torch.tensor([float(p[i] @ q[j]) / 0.1 for j in range(4)])
        total += -(row[i] - row.logsumexp(0)) - (col[i] - col.logsumexp(0))
    assert float(info_nce(q, p, 0.1)) == pytest.approx(float(total) / 8, rel=1e-5)


def test_evidence_pairs_hold_the_query():
    q, p, off = evidence_pairs(5, 20, 50, evidence=4, gen=torch.Generator().manual_seed(1))
    for i in range(5):
        assert p[i, off[i] : off[i] + 4].tolist() == q[i].tolist()


def test_training_learns_retrieval():
    torch.manual_seed(0)
    enc = ContrastiveEncoder(vocab=64, pooling="lmk", every=8, d=32, layers=1, heads=2)
    before = retrieval_accuracy(enc, 32, 24, seed=5)
    losses = train_contrastive(enc, steps=60, length=24, batch=32, lr=3e-3)
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert retrieval_accuracy(enc, 32, 24, seed=5) > before + 0.05  # untrained: lexical overlap alone


def test_bad_input():
    with pytest.raises(ValueError, match="pooling must be one of"):
        ContrastiveEncoder(vocab=5, pooling="max")
    enc = ContrastiveEncoder(vocab=5, d=16, layers=1, heads=2)
    with pytest.raises(ValueError, match="content ids must lie"):
        enc(torch.tensor([[7, 1]]))
    with pytest.raises(ValueError, match="evidence <= length"):
        evidence_pairs(2, 3, 5, evidence=4)
