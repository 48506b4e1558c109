import math

import pytest
import torch

from seqlab import registry
from seqlab.embed.kv_embedding import KVEmbedding, LlamaRunner, kv_pool, select_layers, twonn_dimension
from seqlab.lm.interface import Encoded


def tiny_llama(seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=40,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(cfg).eval()


def left_padded(rows, pad=0):
    T = max(map(len, rows))
    ids = torch.full((len(rows), T), pad)
    mask = torch.zeros(len(rows), T, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, T - len(r) :], mask[i, T - len(r) :] = torch.tensor(r), 1
    return ids, mask


def test_runner_reproduces_the_transformers_forward_with_left_padding():
    model = tiny_llama()
    ids, mask = left_padded([[5, 6, 7, 8, 9, 10], [11, 12, 13]])
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    ref = model(input_ids=ids, attention_mask=mask, position_ids=pos, output_hidden_states=True).hidden_states
    got = LlamaRunner(model).hidden_states(ids, mask)
    assert len(got) == len(ref) == 5
    for a, b in zip(got, ref):
        assert torch.allclose(a[mask.bool()], b[mask.bool()], atol=1e-5)


def test_rerouted_attention_matches_a_plain_loop_over_the_prefix_and_the_causal_keys():
    model = tiny_llama(1)
    runner = LlamaRunner(model)
    attn = model.model.layers[0].self_attn
    x = torch.randn(1, 5, 32)
    mask = torch.ones(1, 5, dtype=torch.long)
    cos, sin = model.model.rotary_emb(x, position_ids=torch.arange(5)[None])
    out = runner.attention(attn, x, cos, sin, mask, reroute=True, bias=0.3)
    # plain loop: every query attends to [last token's (k, v)] + its causal keys, prefix logit + bias
    hd, H = attn.head_dim, 4
    q = attn.q_proj(x).view(5, H, hd)
    k = attn.k_proj(x).view(5, 2, hd)
    v = attn.v_proj(x).view(5, 2, hd)

    def rope(t, i):
        a, b = t.chunk(2, -1)
        return t * cos[0, i] + torch.cat([-b, a], -1) * sin[0, i]

    heads = []
    for h in range(H):
        kvh = h // 2
        rows = []
        for t in range(5):
            qt = rope(q[t, h], t)
            keys = [rope(k[4, kvh], 4)] + [rope(k[s, kvh], s) for s in range(t + 1)]
            vals = [v[4, kvh]] + [v[s, kvh] for s in range(t + 1)]
            logits = torch.stack([qt @ kk / math.sqrt(hd) for kk in keys])
            logits[0] += 0.3
            w = torch.softmax(logits, 0)
            rows.append(sum(wi * vi for wi, vi in zip(w, vals)))
        heads.append(torch.stack(rows))
    ref = attn.o_proj(torch.stack(heads, 1).reshape(5, -1))
    assert torch.allclose(out[0], ref, atol=1e-5)


def test_rerouting_lets_the_first_token_see_the_last_and_leaves_earlier_layers_alone():
    model = tiny_llama(2)
    runner = LlamaRunner(model)
    a = torch.tensor([[3, 4, 5, 6, 7]])
    b = torch.tensor([[3, 4, 5, 6, 30]])  # differs only in the last token
    plain_a, plain_b = runner.hidden_states(a), runner.hidden_states(b)
    assert torch.allclose(plain_a[-1][0, 0], plain_b[-1][0, 0])  # causal: token 0 cannot see token 4
    kv_a, kv_b = runner.hidden_states(a, reroute=(2,)), runner.hidden_states(b, reroute=(2,))
    assert not torch.allclose(kv_a[2][0, 0], kv_b[2][0, 0], atol=1e-4)  # now it can
    for layer in (0, 1):
        assert torch.equal(kv_a[layer], plain_a[layer])
    with pytest.raises(ValueError, match="block indices"):
        runner.hidden_states(a, reroute=(0,))
    with pytest.raises(ValueError, match="left-padded"):
        runner.hidden_states(a, torch.tensor([[1, 1, 1, 1, 0]]), reroute=(1,))


@pytest.mark.parametrize("dim", [2, 5])
def test_twonn_recovers_the_dimension_of_a_linear_manifold(dim):
    g = torch.Generator().manual_seed(dim)
    z = torch.rand(1500, dim, generator=g)
    basis = torch.linalg.qr(torch.randn(40, dim, generator=g)).Q  # an isometric embedding in 40-d
    est = twonn_dimension(z @ basis.T)
    assert abs(est - dim) < 0.15 * dim + 0.2
    with pytest.raises(ValueError, match="N >= 3"):
        twonn_dimension(torch.randn(2, 4))


def test_select_layers_centres_a_window_on_the_minimum():
    assert select_layers([9.0, 7.0, 3.0, 8.0, 9.0], 3) == [2, 3, 4]
    assert select_layers([1.0, 7.0, 3.0, 8.0, 9.0], 3) == [1, 2, 3]
    assert select_layers([9.0, 7.0, 3.0, 8.0, 0.5], 2) == [4, 5]
    with pytest.raises(ValueError, match="width"):
        select_layers([1.0, 2.0], 3)


class CharLM:
    """A causal seqlab.lm-like wrapper of the tiny model with a character tokenizer (left padding)."""

    is_causal, padding_side = True, "left"

    def __init__(self):
        self.model = tiny_llama(3)

    def encode(self, texts):
        return Encoded(*left_padded([[1 + ord(c) % 38 for c in t] for t in texts]))


def test_kv_embedding_selects_layers_by_id_and_pools_mean_and_last():
    lm = CharLM()
    texts = ["alpha beta", "gamma", "delta epsilon zeta", "eta theta", "iota kappa lambda mu"]
    emb = KVEmbedding(lm, width=2, prompt="{text}!")
    v = emb.encode(texts)
    assert v.shape == (5, 64) and len(emb.layers) == 2 and len(emb.layer_ids) == 4
    assert emb.layers == select_layers(emb.layer_ids, 2)
    ids, mask = lm.encode([t + "!" for t in texts[:1]])
    h = LlamaRunner(lm.model).hidden_states(ids, mask, reroute=emb.layers)[-1]
    assert torch.allclose(v[0], kv_pool(h, mask, "kv")[0], atol=1e-5)
    assert torch.allclose(v[0, :32].norm(), torch.tensor(1.0)) and torch.allclose(
        v[0, 32:].norm(), torch.tensor(1.0)
    )
    last = KVEmbedding(lm, pool="last", prompt="{text}!").encode(texts[:1])
    plain = LlamaRunner(lm.model).hidden_states(ids, mask)[-1]
    assert torch.allclose(last[0], plain[0, -1], atol=1e-5)
    with pytest.raises(ValueError, match="causal"):
        KVEmbedding(object())
    with pytest.raises(ValueError, match="pool must be one of"):
        KVEmbedding(lm, pool="max")


def test_registered_kv_embedding():
    e = registry.get("embedder", "kv_embedding")
    assert e.implements[0].arxiv == "2601.01046"
    assert isinstance(registry.create("embedder", "kv_embedding", lm=CharLM(), layers=[1]), KVEmbedding)


@pytest.mark.slow
def test_runner_matches_smollm2():
    import seqlab.lm

    lm = seqlab.lm.load("smollm2-135m")
    ids, mask = lm.encode(["The cat sat", "Hi"])
    ref, got = lm.hidden_states(ids, mask), LlamaRunner(lm.model).hidden_states(ids, mask)
    for i in (1, 15, 30):
        assert torch.allclose(got[i][mask.bool()], ref[i][mask.bool()], atol=1e-3, rtol=1e-4)
