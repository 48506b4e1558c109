"""Recformer's bidirectional encoder: [CLS] first, items most recent first, padding masked out."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqlab.recsys.recformer import SUMMARY, ItemTokens, RecformerEncoder, flat_sequences

TEXTS = ["A (1); genres: X", "B b (2); genres: Y", "C (3); genres: Z, W", "D (4); genres: X"]


def items():
    return ItemTokens(TEXTS, 8, "words")


def encoder(bidirectional: bool, n_layers: int = 2, seed: int = 0):
    torch.manual_seed(seed)
    return RecformerEncoder(
        items(),
        d_model=16,
        n_layers=n_layers,
        max_tokens=40,
        max_items=4,
        init="random",
        dropout=0.0,
        bidirectional=bidirectional,
    ).eval()


def test_cls_first_puts_the_summary_token_first_and_the_items_most_recent_first():
    it = items()
    toks, types, pos = flat_sequences(it, [torch.tensor([1, 2, 3]), torch.tensor([4])], 2, cls_first=True)
    n2, n3, n4 = (int(it.lengths[i]) for i in (2, 3, 4))
    assert toks[0, 0] == 1 and types[0, 0] == SUMMARY and pos[0, 0] == 0
    assert toks[0, 1 : 1 + n3].tolist() == it.ids[3, :n3].tolist()  # the most recent item first
    assert toks[0, 1 + n3 : 1 + n3 + n2].tolist() == it.ids[2, :n2].tolist()
    assert pos[0, 1 : 1 + n3].eq(1).all() and pos[0, 1 + n3 : 1 + n3 + n2].eq(2).all()
    assert toks[1, 0] == 1 and toks[1, 1 : 1 + n4].tolist() == it.ids[4, :n4].tolist()
    assert toks[1, 1 + n4 :].eq(0).all()  # right padding


def test_bidirectional_summary_sees_the_future_causal_states_do_not():
    it = items()
    toks, types, pos = flat_sequences(it, [torch.tensor([1, 2, 3])], 4, cls_first=True)
    changed = toks.clone()
    changed[0, -1] = it.ids[4, 0]  # another token at the last position
    bi = encoder(True)
    with torch.no_grad():
        a, b = bi.hidden_states(toks, types, pos), bi.hidden_states(changed, types, pos)
    assert (a[0, 0] - b[0, 0]).abs().max() > 1e-4  # [CLS] (position 0) reads the last token
    causal = encoder(False)
    with torch.no_grad():
        a, b = causal.hidden_states(toks, types, pos), causal.hidden_states(changed, types, pos)
    assert torch.allclose(a[0, :-1], b[0, :-1], atol=1e-6)  # no earlier state sees it
    assert (a[0, -1] - b[0, -1]).abs().max() > 1e-4


def test_padding_never_changes_a_bidirectional_row():
    it = items()
    bi = encoder(True)
    short, long = torch.tensor([4]), torch.tensor([1, 2, 3])
    with torch.no_grad():
        alone = bi.hidden_states(*flat_sequences(it, [short], 4, cls_first=True))
        batch = bi.hidden_states(*flat_sequences(it, [short, long], 4, cls_first=True))
    n = alone.shape[1]
    assert batch.shape[1] > n
    assert torch.allclose(alone[0], batch[0, :n], atol=1e-5)
    v = bi.encode(*flat_sequences(it, [short, long], 4, cls_first=True))
    assert torch.allclose(v[0], alone[0, 0], atol=1e-5)  # the representation is [CLS]'s state


def test_one_bidirectional_layer_against_a_plain_formula():
    it = items()
    enc = encoder(True, n_layers=1, seed=3)
    toks, types, pos = flat_sequences(it, [torch.tensor([1, 3]), torch.tensor([4])], 4, cls_first=True)
    with torch.no_grad():
        got = enc.hidden_states(toks, types, pos)
        bb, block = enc.backbone, enc.backbone.blocks[0]
        H, dh = 2, 8

        def ln(x, norm):
            return (x - x.mean(-1, keepdim=True)) / torch.sqrt(
                x.var(-1, unbiased=False, keepdim=True) + norm.eps
            ) * (norm.weight) + norm.bias

        for b in range(2):
            T = int((toks[b] != 0).sum())  # real tokens only: the reference never sees padding
            x = bb.embed(enc.tok(toks[b, :T])) + enc.item_pos(pos[b, :T]) + enc.token_type(types[b, :T])
            x = x + bb.pos(torch.arange(T)[None])[0]
            qkv = ln(x, block.norm1) @ block.mixer.qkv.weight.T + block.mixer.qkv.bias
            heads = []
            for h in range(H):
                q, k, v = (qkv[:, j * H * dh + h * dh : j * H * dh + (h + 1) * dh] for j in range(3))
                w = torch.softmax(q @ k.T / math.sqrt(dh), dim=-1)  # every query sees every real key
                heads.append(w @ v)
            x = x + torch.cat(heads, -1) @ block.mixer.out.weight.T + block.mixer.out.bias
            m = ln(x, block.norm2)
            x = x + block.mlp[2](F.gelu(block.mlp[0](m)))
            ref = ln(x, bb.norm)
            assert torch.allclose(got[b, :T], ref, atol=1e-5)


def test_bidirectional_encoder_settings():
    with pytest.raises(ValueError, match="init must be"):
        RecformerEncoder(items(), init="bert")
    enc = encoder(True)
    assert enc.bidirectional and enc.mask_id is None and not enc.backbone.blocks[0].mixer.causal
