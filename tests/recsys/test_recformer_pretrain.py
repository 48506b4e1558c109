"""Recformer's pre-training: MLM masking and loss, the contrastive and full-softmax losses, the loop."""

import math

import pytest
import torch

from seqlab.recsys import Recformer
from seqlab.recsys.recformer_pretrain import IGNORE, MLMHead, in_batch_loss, mlm_loss, mlm_mask, table_loss

from .test_recformer import genre_split


def test_mlm_mask_chooses_only_item_text_tokens_with_berts_proportions():
    g = torch.Generator().manual_seed(0)
    V, mask_id = 50, 50
    tokens = torch.randint(2, V, (400, 100), generator=g)
    tokens[:, 0] = 1  # the summary token
    tokens[:, 80:] = 0  # padding
    inputs, labels = mlm_mask(tokens, mask_id, V, 0.15, torch.Generator().manual_seed(1))
    chosen = labels != IGNORE
    real = tokens >= 2
    assert not (chosen & ~real).any()  # padding and [CLS] are never chosen
    assert torch.equal(labels[chosen], tokens[chosen])
    assert torch.equal(inputs[~chosen], tokens[~chosen])  # only chosen positions change
    n_real, n = int(real.sum()), int(chosen.sum())
    sd = math.sqrt(0.15 * 0.85 / n_real)
    assert abs(n / n_real - 0.15) < 5 * sd
    masked = (inputs == mask_id) & chosen
    kept = (inputs == tokens) & chosen
    swapped = chosen & ~masked & ~kept
    # a random replacement equals the original with probability 1/(V-2): counted under "kept"
    p_keep = 0.1 + 0.1 / (V - 2)
    for frac, p in ((masked, 0.8), (kept, p_keep), (swapped, 0.1 - 0.1 / (V - 2))):
        assert abs(int(frac.sum()) / n - p) < 5 * math.sqrt(p * (1 - p) / n)
    assert ((inputs[swapped] >= 2) & (inputs[swapped] < V)).all()
    again = mlm_mask(tokens, mask_id, V, 0.15, torch.Generator().manual_seed(1))
    assert torch.equal(again[0], inputs) and torch.equal(again[1], labels)  # seeded
    with pytest.raises(ValueError, match="masking probability"):
        mlm_mask(tokens, mask_id, V, 1.0)
    with pytest.raises(ValueError, match="item-text tokens"):
        mlm_mask(tokens, 2, 2)
    with pytest.raises(ValueError, match=r"\(batch, length\) LongTensor"):
        mlm_mask(tokens.float(), mask_id, V)


def test_mlm_loss_is_the_heads_cross_entropy_at_the_chosen_positions():
    torch.manual_seed(0)
    d, V = 8, 11
    head = MLMHead(d, V)
    h = torch.randn(2, 5, d)
    labels = torch.full((2, 5), IGNORE)
    labels[0, 1], labels[1, 3], labels[1, 4] = 4, 7, 2
    loss, n = mlm_loss(head, h, labels)
    ref = 0.0
    head.requires_grad_(False)
    for b, t in ((0, 1), (1, 3), (1, 4)):
        a = head.dense.weight @ h[b, t] + head.dense.bias
        a = 0.5 * a * (1 + torch.erf(a / math.sqrt(2)))  # GELU
        z = (a - a.mean()) / torch.sqrt(a.var(unbiased=False) + head.norm.eps)
        z = z * head.norm.weight + head.norm.bias
        logits = head.decoder.weight @ z + head.decoder.bias
        ref -= float(logits[labels[b, t]] - torch.log(torch.exp(logits).sum()))
    assert n == 3 and loss.item() == pytest.approx(ref, rel=1e-5)
    zero, none = mlm_loss(head, h, torch.full((2, 5), IGNORE))
    assert none == 0 and float(zero) == 0.0


def test_in_batch_and_table_losses_against_plain_loops():
    torch.manual_seed(1)
    u = torch.nn.functional.normalize(torch.randn(4, 6), dim=-1).requires_grad_()
    table = torch.nn.functional.normalize(torch.randn(9, 6), dim=-1).requires_grad_()
    tgt = torch.tensor([3, 5, 3, 8])
    tau = 0.1
    loss = table_loss(u, table, tgt, tau)
    ref = 0.0
    for b in range(4):
        s = [float(u[b].detach() @ table[i].detach()) / tau for i in range(1, 9)]  # row 0 is padding
        ref += -(s[int(tgt[b]) - 1] - math.log(sum(math.exp(x) for x in s)))
    assert loss.item() == pytest.approx(ref / 4, rel=1e-5)
    loss.backward()
    assert table.grad is None and u.grad is not None  # no gradient reaches the item table
    u, v = u.detach(), table.detach()[tgt]
    ref = 0.0
    for b in range(4):
        negatives = [c for c in range(4) if c == b or tgt[c] != tgt[b]]
        s = [float(u[b] @ v[c]) / tau for c in negatives]
        ref += -(float(u[b] @ v[b]) / tau - math.log(sum(math.exp(x) for x in s)))
    assert float(in_batch_loss(u, v, tgt, tau)) == pytest.approx(ref / 4, rel=1e-5)


def test_pretraining_lowers_the_mlm_loss_and_adds_a_mask_token():
    split = genre_split()
    m = Recformer(
        tokenizer="words",
        init="random",
        bidirectional=True,
        pretrain_steps=60,
        max_steps=1,
        batch_size=32,
        lr=3e-3,
        d_model=32,
        n_layers=1,
    ).fit(split)
    assert len(m.pretrain_log) == 60
    assert m.encoder.mask_id == m.items.vocab_size and m.encoder.tok.num_embeddings == m.items.vocab_size + 1
    assert m.mlm_head.decoder.out_features == m.items.vocab_size  # [MASK] is never a target
    first = sum(mlm for _, mlm in m.pretrain_log[:5]) / 5
    last = sum(mlm for _, mlm in m.pretrain_log[-5:]) / 5
    assert first > math.log(m.items.vocab_size) - 1 and last < first - 1.0
    plain = Recformer(tokenizer="words", init="random", max_steps=1).fit(split)
    assert plain.mlm_head is None and plain.encoder.mask_id is None and plain.pretrain_log == []


def test_bad_pretraining_and_finetuning_settings():
    for kw, match in (
        ({"pretrain_steps": -1}, "pretrain_steps"),
        ({"finetune": "joint"}, "finetune must be"),
        ({"finetune": "two_stage", "stage1_steps": 0, "stage2_steps": 0}, "stage1_steps \\+ stage2_steps"),
        ({"mlm_prob": 0.0}, "mlm_prob"),
        ({"mlm_weight": -1.0}, "mlm_weight"),
        ({"refresh_every": 0}, "refresh_every"),
        ({"stage2_steps": 1.5}, "stage2_steps"),
    ):
        with pytest.raises(ValueError, match=match):
            Recformer(**kw)
