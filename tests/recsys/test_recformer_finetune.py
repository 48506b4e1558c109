"""Recformer's two-stage fine-tuning: the table re-encoded every epoch in stage 1, frozen in stage 2."""

import pytest
import torch

import seqlab.recsys.recformer_finetune as ft
from seqlab.recsys import Popularity, Recformer, evaluate
from seqlab.recsys.base import user_ranks
from seqlab.recsys.metrics import summarize

from .test_recformer import genre_split

SMALL = dict(tokenizer="words", init="random", d_model=32, n_layers=1, batch_size=32, lr=3e-3)


def spy(monkeypatch, model_cls=Recformer):
    """Record every table the loss is computed against and every table the model encodes."""
    used, encoded = [], []
    real_loss, real_encode = ft.table_loss, model_cls.encode_table

    def loss(u, table, targets, tau):
        used.append(table.detach().clone())
        assert not table.requires_grad
        return real_loss(u, table, targets, tau)

    def encode(self, chunk=512):
        t = real_encode(self, chunk)
        encoded.append(t.clone())
        return t

    monkeypatch.setattr(ft, "table_loss", loss)
    monkeypatch.setattr(model_cls, "encode_table", encode)
    return used, encoded


@pytest.mark.parametrize("num_items, moved", [(40, False), (160, True)])
def test_stage_one_re_encodes_the_table_every_epoch_and_stage_two_freezes_the_best(
    monkeypatch, num_items, moved
):
    used, encoded = spy(monkeypatch)
    m = Recformer(
        **SMALL, bidirectional=True, finetune="two_stage", stage1_steps=9, stage2_steps=6, refresh_every=3
    )
    m.fit(genre_split(num_items=num_items))
    stage1 = [e for e in m.finetune_log if e["stage"] == 1]
    assert [e["steps"] for e in m.finetune_log] == [3, 3, 3, 3, 3] and len(stage1) == 3
    assert len(used) == 15 and len(encoded) == 4  # the initial table + one after each stage-1 epoch
    for epoch in range(3):  # epoch j trains against the table encoded before it
        for t in used[3 * epoch : 3 * epoch + 3]:
            assert torch.equal(t, encoded[epoch])
    assert not torch.equal(encoded[0], encoded[1]) and not torch.equal(encoded[1], encoded[2])
    scores = [e["valid_recall@20"] for e in stage1]
    best = scores.index(max(scores))  # the table encoded after the best epoch
    for t in used[9:]:  # stage 2: one frozen table, the best stage-1 epoch's
        assert torch.equal(t, encoded[best + 1])
    assert torch.equal(m.table, encoded[best + 1]) and torch.equal(m.all_item_vectors(), m.table)
    # 40 items: validation saturates in stage 1, so stage 2 keeps stage 1's encoder; 160: it improves
    assert moved == any(e["valid_recall@20"] > max(scores) for e in m.finetune_log[3:])
    assert moved == (not torch.allclose(m.table, _fresh(m), atol=1e-6))  # the encoder moved, I did not


def _fresh(m):
    """The table the fitted encoder would encode now (bypassing the spy)."""
    with torch.no_grad():
        ids = torch.arange(1, len(m.items.ids))
        return torch.cat([torch.zeros(1, m.d_model), m.item_vectors(ids)])


def test_the_table_is_scored_against_and_validation_keeps_the_best_epoch():
    split = genre_split()
    m = Recformer(
        **SMALL, bidirectional=True, finetune="two_stage", stage1_steps=8, stage2_steps=0, refresh_every=4
    )
    m.fit(split)
    assert torch.equal(m.table, _fresh(m))  # stage 1 only: the best epoch's encoder and its own table
    users = [u for u, h in enumerate(split.train) if h.numel() > 0][: m.valid_users]
    best = max(e["valid_recall@20"] for e in m.finetune_log)
    hist, tgt = [split.train[u] for u in users], split.valid[users]
    assert ft.valid_recall(m, m.table, hist, tgt) == pytest.approx(best)
    # valid_recall is the full-ranking Recall@20 of the table scores with seen items excluded
    s = m.user_vectors(hist) @ m.table.T / m.tau
    s[:, 0] = float("-inf")
    hits = 0
    for b, h in enumerate(hist):
        row = s[b].clone()
        row[h] = float("-inf")
        row[tgt[b]] = s[b, tgt[b]]
        hits += int((row > row[tgt[b]]).sum() + (row[: tgt[b]] == row[tgt[b]]).sum()) < 20
    assert best == pytest.approx(hits / len(hist))
    scores = m.scores(split.history()[:3])
    assert torch.allclose(scores[:, 1:], (m.user_vectors(split.history()[:3]) @ m.table.T / m.tau)[:, 1:])


def test_pretraining_and_two_stage_fine_tuning_learn_the_genre_task():
    split = genre_split()
    m = Recformer(
        **SMALL,
        bidirectional=True,
        pretrain_steps=40,
        finetune="two_stage",
        stage1_steps=60,
        stage2_steps=40,
        refresh_every=20,
    ).fit(split)
    ranks = user_ranks(m, split)
    # ~10 items of the user's genre, 4 of them seen: the text alone puts the target in the top 10
    assert summarize(ranks)["recall@10"] >= 0.8
    assert evaluate(m, split)["recall@10"] > evaluate(Popularity().fit(split), split)["recall@10"] + 0.3
    assert len(m.pretrain_log) == 40 and {e["stage"] for e in m.finetune_log} == {1, 2}
