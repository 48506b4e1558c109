"""The pretrained models of seqlab.lm, loaded offline from their PyPI wheels (one load per module)."""

import socket

import pytest
import torch

import seqlab.decode as D
import seqlab.lm as L


@pytest.fixture(scope="module")
def smol():
    return L.load("smollm2-135m")


@pytest.fixture(scope="module")
def minilm():
    return L.load("minilm-l6")


def test_unknown_model_lists_the_names():
    with pytest.raises(
        ValueError, match="unknown language model 'gpt-5'; available: minilm-l6, smollm2-135m"
    ):
        L.load("gpt-5")


def test_loading_touches_no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("seqlab.lm tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    lm = L.load("minilm-l6")
    assert lm.hidden_states(*lm.encode(["offline"]))[-1].shape[-1] == 384


def test_smollm2_interface(smol):
    assert isinstance(smol, L.LanguageModel) and smol.is_causal and smol.padding_side == "left"
    assert (smol.n_layers, smol.d_model, smol.vocab_size) == (30, 576, 49152)
    ids, mask = smol.encode(["The capital of France is", "Hi"])
    assert mask[1, 0] == 0 and mask[1, -1] == 1 and ids[1, 0] == smol.pad_token_id  # left padding
    assert smol.decode(ids) == ["The capital of France is", "Hi"]
    hs = smol.hidden_states(ids, mask)
    assert len(hs) == 31 and all(h.shape == (2, ids.shape[1], 576) for h in hs)
    with torch.no_grad():
        emb = smol.input_embeddings(ids)
        assert torch.equal(hs[0], emb)
        out = smol.forward_embeds(emb, mask)
        full = smol.logits(ids, mask)
    assert torch.allclose(out.logits, full, atol=1e-4) and len(out.hidden_states) == 31
    assert torch.allclose(out.hidden_states[-1][mask.bool()], hs[-1][mask.bool()], atol=1e-4)


def test_smollm2_incremental_steps_match_the_full_forward(smol):
    ids, mask = smol.encode(["One two three", "The cat sat on the"])
    logits, state = smol.prefill(ids, mask)
    nxt = logits.argmax(-1)
    state = smol.reorder_state(state, torch.tensor([1, 0]))  # swap the rows
    nxt = nxt.flip(0)
    step_logits, _ = smol.step(nxt, state)
    ext_ids = torch.cat([ids.flip(0), nxt[:, None]], 1)
    ext_mask = torch.cat([mask.flip(0), torch.ones(2, 1, dtype=torch.long)], 1)
    full = smol.logits(ext_ids, ext_mask)[:, -1]
    assert torch.allclose(step_logits, full, atol=1e-3)
    assert torch.equal(step_logits.argmax(-1), full.argmax(-1))


def test_smollm2_bad_input(smol):
    ids, mask = smol.encode(["hello"])
    long = torch.zeros(1, smol.context_length + 1, dtype=torch.long)
    with pytest.raises(ValueError, match="context of 8192 tokens"):
        smol.logits(long)
    with pytest.raises(ValueError, match="exceeds the model's context of 8192"):
        D.generate(smol, ids, "greedy", max_new_tokens=8192)
    bad = smol.input_embeddings(ids).clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite input embeddings"):
        smol.forward_embeds(bad, mask)
    with pytest.raises(ValueError, match="num_beams must be an int >= 1"):
        D.generate(smol, ids, "beam", num_beams=0)
    two, two_mask = smol.encode(["hello there friend", "hi"])
    with pytest.raises(ValueError, match="left-padded"):
        D.generate(smol, two, "greedy", attention_mask=two_mask.flip(1))
    with pytest.raises(ValueError, match="list of strings"):
        smol.encode("not a list")


def test_smollm2_gradients_reach_continuous_inputs(smol):
    ids, mask = smol.encode(["a short sentence"])
    emb = smol.input_embeddings(ids).detach().requires_grad_(True)
    out = smol.forward_embeds(emb, mask)
    out.logits[0, -1].logsumexp(-1).backward()
    assert emb.grad is not None and torch.isfinite(emb.grad).all() and emb.grad.abs().sum() > 0
    assert all(p.grad is None for p in smol.model.parameters())  # frozen


def test_minilm_is_an_encoder_subset(minilm):
    assert isinstance(minilm, L.LanguageModel) and not minilm.is_causal and minilm.padding_side == "right"
    ids, mask = minilm.encode(["a longer sentence here", "short"])
    assert mask[1, -1] == 0 and mask[1, 0] == 1
    hs = minilm.hidden_states(ids, mask)
    assert len(hs) == 7 and all(h.shape == (2, ids.shape[1], 384) for h in hs)
    assert minilm.decode(ids) == ["a longer sentence here", "short"]
    out = minilm.forward_embeds(minilm.input_embeddings(ids), mask)
    assert out.logits is None and torch.allclose(out.hidden_states[-1], hs[-1], atol=1e-5)
    with pytest.raises(ValueError, match="encoder without an LM head.*not logits"):
        minilm.logits(ids, mask)
    with pytest.raises(ValueError, match="not causal"):
        D.generate(minilm, ids, "greedy")
