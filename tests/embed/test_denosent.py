import random

import pytest
import torch

from seqlab import registry
from seqlab.embed.denosent import (
    BOS,
    EOS,
    DenoSent,
    TextDecoder,
    WordVocab,
    delete_tokens,
    lee_sentences,
    local_shuffle,
    reconstruction_loss,
)

SENTS = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat and a dog met on the mat",
    "the log was on the mat",
    "a dog saw the cat",
    "the cat saw a log",
]


def test_token_deletion_keeps_order_and_rate():
    rng = random.Random(0)
    ids = list(range(1000))
    kept = delete_tokens(ids, 0.3, rng)
    assert kept == sorted(kept) and set(kept) <= set(ids)
    assert 0.25 < 1 - len(kept) / 1000 < 0.35
    assert delete_tokens([7], 0.99, random.Random(1)) == [7]  # never empty
    with pytest.raises(ValueError, match="deletion probability"):
        delete_tokens(ids, 1.0, rng)


def test_local_shuffle_is_a_permutation_moving_tokens_less_than_the_window():
    rng = random.Random(0)
    ids = list(range(200))
    out = local_shuffle(ids, 3, rng)
    assert sorted(out) == ids and out != ids
    assert max(abs(out.index(t) - t) for t in ids) <= 2  # key = i + U(0, 3): displacement < 3
    assert local_shuffle(ids, 1, rng) == ids


def test_decoder_sees_only_the_memory_and_the_loss_is_teacher_forced_cross_entropy():
    torch.manual_seed(0)
    dec = TextDecoder(12, d=16, layers=1, heads=2, dropout=0.0).eval()
    clean = torch.tensor([[5, 6, 7], [8, 9, 0]])  # second row padded
    mem = torch.randn(2, 1, 16)
    loss = reconstruction_loss(dec, clean, mem)
    inp = torch.tensor([[BOS, 5, 6, 7], [BOS, 8, 9, 0]])
    logits = dec(inp, mem)
    targets = [(0, 0, 5), (0, 1, 6), (0, 2, 7), (0, 3, EOS), (1, 0, 8), (1, 1, 9), (1, 2, EOS)]
    ref = -sum(torch.log_softmax(logits[b, t], -1)[y] for b, t, y in targets) / len(targets)
    assert torch.allclose(loss, ref, atol=1e-5)
    # causal: the logits at step t do not depend on later inputs; they do depend on the memory
    inp2 = inp.clone()
    inp2[0, 3] = 4
    assert torch.allclose(dec(inp2, mem)[0, :3], logits[0, :3], atol=1e-5)
    assert not torch.allclose(dec(inp, mem + 1.0)[0, 0], logits[0, 0], atol=1e-4)


def test_denosent_trains_and_encodes():
    m = DenoSent(d=16, layers=1, steps=40, batch_size=6, lr=3e-3, min_count=1, seed=0).fit(SENTS)
    assert m.history[-1] < m.history[0]
    e = m.encode(SENTS[:3] + ["an unseen words sentence"])
    assert e.shape == (4, 16) and torch.isfinite(e).all()
    assert torch.allclose(m.encode(SENTS[:1]), e[:1], atol=1e-6)  # deterministic (no noise at encode)
    long_doc = ". ".join(SENTS) + "."
    assert m.encode([long_doc]).shape == (1, 16)
    with pytest.raises(ValueError, match="not fitted"):
        DenoSent().encode(["x"])
    with pytest.raises(ValueError, match="no vocabulary"):
        WordVocab(SENTS, min_count=100)
    with pytest.raises(ValueError, match="p_del"):
        DenoSent(p_del=1.5)
    assert registry.get("embedder", "denosent").implements[0].arxiv == "2401.13621"


def test_contrastive_term_adds_to_the_denoising_loss():
    a = DenoSent(d=16, layers=1, steps=1, batch_size=4, min_count=1, contrastive=0.0, seed=0).fit(SENTS)
    a.train()
    torch.manual_seed(0)
    rows = [a.vocab.ids(s) for s in SENTS[:4]]
    only = a.loss(rows, random.Random(0))
    a.cfg["contrastive"], a.cfg["tau"] = 1.0, 1.0
    torch.manual_seed(0)
    both = a.loss(rows, random.Random(0))
    # the same noise draws, plus InfoNCE over 4 views at tau 1: >= ln(1 + 3 e^-2) = 0.34
    assert float(both.detach()) - float(only.detach()) > 0.3


def test_lee_sentences_are_the_training_text():
    s = lee_sentences()
    assert len(s) > 2000 and all(len(x.split()) >= 4 for x in s[:50])
