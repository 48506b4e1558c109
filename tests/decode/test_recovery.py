"""Sentence recovery (seqlab.decode.recovery): z injected into a frozen LM regenerates a sentence."""

import pytest
import torch

from seqlab.decode import generate
from seqlab.decode import recovery as R
from seqlab.models import SequenceModel

V, BOS = 20, 0


def lm(seed=0, mixer="attention", d=32):
    torch.manual_seed(seed)
    m = SequenceModel(mixer=mixer, d_model=d, n_layers=2, vocab_size=V, pos_enc="sinusoidal").eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


@pytest.mark.parametrize("dim,inject", [(8, "add"), (32, "prefix"), (80, "prefix"), (80, "add")])
def test_projection_is_scaled_orthonormal(dim, inject):
    m = lm()
    w = R.projection(m, dim, 3, inject).double()
    k = R.prefix_length(m, dim, inject)
    assert w.shape == (k * 32, dim) and k == (3 if (inject, dim) == ("prefix", 80) else 1)
    gram = w.T @ w if dim <= w.shape[0] else w @ w.T
    assert torch.allclose(gram / gram[0, 0], torch.eye(min(w.shape), dtype=torch.float64), atol=1e-5)
    assert torch.equal(R.projection(m, dim, 3, inject), R.projection(m, dim, 3, inject))


def test_zero_vector_added_decodes_as_the_engine_greedy():
    """inject='add' with z = 0 is the plain LM: greedy from BOS equals seqlab.decode's greedy."""
    m = lm(1)
    out = R.decode_vector(m, torch.zeros(3, 16), 7, inject="add", bos_token_id=BOS)
    ref = generate(m, torch.full((3, 1), BOS), "greedy", max_new_tokens=7, eos_token_id=None)
    assert torch.equal(out, ref[:, 1:])


def test_prefix_inputs_and_greedy_match_a_plain_loop():
    m = lm(2)
    v = torch.randn(2, 64)  # k = 2 prefix vectors of width 32
    toks = R.greedy_from_vectors(m, v, 5, "prefix")
    x = v.reshape(2, 2, 32)
    for _ in range(5):  # plain loop: full forward over [prefix, chosen tokens]
        nxt = m.forward_embeds(x).logits[:, -1].argmax(-1)
        x = torch.cat([x, m.input_embeddings(nxt[:, None])], 1)
    assert torch.equal(toks, m.embed.weight.new_tensor(0).long() + _ids_of(m, x[:, 2:]))


def _ids_of(m, emb):
    d = torch.cdist(emb, m.embed.weight[None].expand(emb.shape[0], -1, -1))
    return d.argmin(-1)


@pytest.mark.parametrize("inject", ["prefix", "add"])
def test_recovers_sentences_that_some_z_generates(inject):
    """Targets made by decoding random z* (so a solution exists): recovery finds z for most, and
    ``exact`` is exactly 'greedy decode equals the target'."""
    m = lm(3, d=32)
    dim = 64
    target = R.decode_vector(
        m,
        torch.randn(6, dim, generator=torch.Generator().manual_seed(0)),
        6,
        seed=1,
        inject=inject,
        bos_token_id=BOS,
    )
    r = R.recover(m, target, dim, steps=300, lr=0.3, seed=1, inject=inject, bos_token_id=BOS)
    assert r.z.shape == (6, dim) and r.ids.shape == target.shape
    assert torch.equal(r.exact, (r.ids == target).all(1))
    assert torch.equal(R.decode_vector(m, r.z, 6, seed=1, inject=inject, bos_token_id=BOS), r.ids)
    zero = R.decode_vector(m, torch.zeros(6, dim), 6, seed=1, inject=inject, bos_token_id=BOS)
    if inject == "prefix":
        assert float(r.exact.float().mean()) >= 0.5
    else:  # one vector added everywhere steers a random LM less: most tokens, far above z = 0
        acc = float((r.ids == target).float().mean())
        assert acc >= 0.5 and acc > float((zero == target).float().mean()) + 0.2
    one = R.recover(m, target[0], dim, steps=300, lr=0.3, seed=1, inject=inject, bos_token_id=BOS)
    assert isinstance(one.exact, bool) and one.z.shape == (dim,) and one.ids.shape == (6,)


def test_lengths_only_count_the_real_tokens():
    m = lm(4)
    target = R.decode_vector(m, torch.randn(2, 64), 5, seed=0)
    padded = torch.cat([target, torch.full((2, 3), 7)], 1)  # 3 junk tokens after each sentence
    r = R.recover(m, padded, 64, steps=200, seed=0, lengths=torch.tensor([5, 5]))
    assert torch.equal(r.exact, (r.ids[:, :5] == target).all(1))


def test_bad_input():
    m = lm()
    y = torch.tensor([1, 2, 3])
    with pytest.raises(ValueError, match="dim"):
        R.recover(m, y, 0)
    with pytest.raises(ValueError, match="inject"):
        R.recover(m, y, 4, inject="middle")
    with pytest.raises(ValueError, match="bos_token_id"):
        R.recover(m, y, 4, inject="add")
    with pytest.raises(ValueError, match="token ids"):
        R.recover(m, y.float(), 4)
    with pytest.raises(ValueError, match="lengths"):
        R.recover(m, y[None], 4, lengths=torch.tensor([4]))
    with pytest.raises(ValueError, match="lr"):
        R.recover(m, y, 4, lr=float("nan"))
    with pytest.raises(ValueError, match="finite z"):
        R.decode_vector(m, torch.tensor([float("nan"), 0.0]), 3)
    enc = SequenceModel(mixer="attention", d_model=16, n_layers=1, vocab_size=V, mixer_cfg={"causal": False})
    with pytest.raises(ValueError, match="causal"):
        R.recover(enc, y, 4)


# -- inject="state": 1907.04944's bias on the recurrent state at every step ------------------------
def lstm_lm(seed=0, d=16, layers=2):
    torch.manual_seed(seed)
    m = SequenceModel(mixer="lstm", d_model=d, n_layers=layers, vocab_size=V).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def _plain_lstm_logits(m, tokens, v):
    """The cell equations written out: before each step h += b_h, c += b_c (per layer), then
    i, f, g, o = sigma, sigma, tanh, sigma(W x + U h + b); c = f c + i g; h = o tanh(c)."""
    b, d = tokens.shape[0], m.d_model
    biases = v.reshape(b, len(m.blocks), 2, d)  # layer-major: (h, c) of block 0, then block 1
    hs = [torch.zeros(b, d) for _ in m.blocks]
    cs = [torch.zeros(b, d) for _ in m.blocks]
    out = []
    for t in range(tokens.shape[1]):
        x = m.embed(tokens[:, t])
        for j, blk in enumerate(m.blocks):
            rnn = blk.mixer.rnn
            h, c = hs[j] + biases[:, j, 0], cs[j] + biases[:, j, 1]
            u = blk.norm1(x)
            gates = u @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0
            i, f, g, o = gates.chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            hs[j], cs[j] = h, c
            x = x + blk.mixer.out(h)
            x = x + blk.mlp(blk.norm2(x))
        out.append(m.head(m.norm(x)))
    return torch.stack(out, 1)


def test_state_injection_matches_the_plain_cell_equations():
    m = lstm_lm(5)
    assert R.state_size(m) == 2 * 2 * 16  # (h, c) of 2 layers
    v = torch.randn(3, R.state_size(m))
    tokens = torch.randint(0, V, (3, 6))
    got = R.state_injected_logits(m, v, tokens)
    assert torch.allclose(got, _plain_lstm_logits(m, tokens, v), atol=1e-5)
    # greedy from v: each step's argmax fed back, checked against the plain equations
    ids = R.greedy_from_vectors(m, v, 5, "state", bos_token_id=BOS)
    seq = torch.cat([torch.full((3, 1), BOS), ids], 1)
    assert torch.equal(_plain_lstm_logits(m, seq[:, :-1], v).argmax(-1), ids)


def test_state_injection_with_zero_bias_is_the_plain_lm():
    m = lstm_lm(6)
    out = R.decode_vector(m, torch.zeros(2, 24), 7, inject="state", bos_token_id=BOS)
    ref = generate(m, torch.full((2, 1), BOS), "greedy", max_new_tokens=7, eos_token_id=None)
    assert torch.equal(out, ref[:, 1:])


def test_state_injection_recovers_sentences_that_some_z_generates():
    m = lstm_lm(7, d=32, layers=1)
    dim = 64  # = the state size (h and c of one 32-wide layer)
    z_star = 2 * torch.randn(6, dim, generator=torch.Generator().manual_seed(3))
    target = R.decode_vector(m, z_star, 6, seed=2, inject="state", bos_token_id=BOS)
    r = R.recover(m, target, dim, steps=300, lr=0.3, seed=2, inject="state", bos_token_id=BOS)
    assert torch.equal(r.exact, (r.ids == target).all(1))
    assert torch.equal(R.decode_vector(m, r.z, 6, seed=2, inject="state", bos_token_id=BOS), r.ids)
    zero = R.decode_vector(m, torch.zeros(6, dim), 6, seed=2, inject="state", bos_token_id=BOS)
    assert float(r.exact.float().mean()) >= 0.5
    assert float(r.exact.float().mean()) > float((zero == target).all(1).float().mean())


def test_state_injection_bad_input():
    y = torch.tensor([1, 2, 3])
    with pytest.raises(ValueError, match="bos_token_id"):
        R.recover(lstm_lm(), y, 8, inject="state")
    with pytest.raises(ValueError, match="fixed-size state"):
        R.recover(lm(), y, 8, inject="state", bos_token_id=BOS)  # attention: a growing KV cache


def test_restarts_only_add_recovered_rows_and_cosine_schedule_runs():
    m = lm(8)
    target = R.decode_vector(m, torch.randn(8, 48, generator=torch.Generator().manual_seed(4)), 6, seed=3)
    one = R.recover(m, target, 48, steps=20, lr=0.3, seed=3)
    three = R.recover(m, target, 48, steps=20, lr=0.3, seed=3, restarts=3)
    assert bool((three.exact | ~one.exact).all())  # a row recovered once stays recovered
    assert torch.equal(three.z[one.exact], one.z[one.exact])  # ... with the first attempt's z
    assert torch.equal(R.decode_vector(m, three.z, 6, seed=3), three.ids)
    assert torch.equal(three.exact, (three.ids == target).all(1))
    cos = R.recover(m, target, 48, steps=20, lr=0.3, seed=3, schedule="cosine")
    assert torch.equal(cos.exact, (cos.ids == target).all(1))
    with pytest.raises(ValueError, match="restarts"):
        R.recover(m, target, 48, restarts=0)
    with pytest.raises(ValueError, match="schedule"):
        R.recover(m, target, 48, schedule="linear")
