"""inject="kv" (seqlab.decode.recovery_kv): z as a key/value slot in every attention layer of a
transformers causal LM (arXiv 2008.09049's attention injection)."""

from types import SimpleNamespace

import pytest
import torch

from seqlab.decode import generate
from seqlab.decode import recovery as R
from seqlab.decode import recovery_kv as K
from seqlab.lm.hf import HFCausalLM
from seqlab.models import SequenceModel

BOS = 0


def tiny(seed=0, dtype=torch.float32):
    """A random 2-layer LLaMA (4 query heads, 2 key/value heads of 8) behind seqlab's HF wrapper; init
    scale 0.3 so that different inputs give different greedy sentences."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=24,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        initializer_range=0.3,
        bos_token_id=BOS,
        eos_token_id=1,
        pad_token_id=1,
    )
    model = LlamaForCausalLM(cfg).to(dtype)
    return HFCausalLM("tiny", model, SimpleNamespace(padding_side="left", pad_token_id=1, eos_token_id=1))


def test_layout():
    lm = tiny()
    assert K.kv_layout(lm) == (2, 2, 8)
    assert K.slot_size(lm) == 2 * 2 * 2 * 8
    assert [K.kv_slots(lm, d) for d in (1, 64, 65, 128, 129)] == [1, 1, 2, 2, 3]
    v = torch.arange(2 * 128.0).reshape(2, 128)  # 2 slots
    pairs = K.kv_tensors(lm, v)
    assert len(pairs) == 2 and pairs[0][0].shape == (2, 2, 2, 8)
    # layout (B, L, 2, H, s, D): layer 1's values of head 0, slot 1 are numbers 64 + 32 + 8 .. of row 0
    assert torch.equal(pairs[1][1][0, 0, 1], torch.arange(104.0, 112.0))


@pytest.mark.parametrize("s", [1, 3])
def test_slots_from_a_real_prompt_reproduce_running_the_prompt(s):
    """Reference check: the cache of a prompt, read back as kv slots, gives the logits of running the
    prompt and the continuation together -- directly and through recovery's teacher forcing (bos first)."""
    lm = tiny(1)
    ids = torch.tensor([[3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16]])
    v = K.prompt_kv(lm, ids[:, :s])
    assert v.shape == (2, s * K.slot_size(lm))
    full = lm.logits(ids)
    assert torch.allclose(K.kv_logits(lm, v, ids[:, s:]), full[:, s:], atol=1e-5)
    y = ids[:, s + 1 :]
    with_bos = torch.cat([ids[:, :s], torch.full((2, 1), BOS), y], 1)
    teacher = R.injected_logits(lm, v, y, "kv", BOS)
    assert torch.allclose(teacher, lm.logits(with_bos)[:, s:-1], atol=1e-5)


def test_incremental_greedy_equals_the_engine_greedy_after_the_prompt():
    lm = tiny(2)
    prompt = torch.tensor([[3, 4, 5], [6, 7, 8]])
    got = K.kv_greedy(lm, K.prompt_kv(lm, prompt), 6, BOS)
    ref = generate(
        lm, torch.cat([prompt, torch.full((2, 1), BOS)], 1), "greedy", max_new_tokens=6, eos_token_id=None
    )
    assert torch.equal(got, ref[:, 4:])
    # and recovery's greedy_from_vectors dispatches to it
    v = torch.randn(2, 64)
    assert torch.equal(R.greedy_from_vectors(lm, v, 4, "kv", BOS), K.kv_greedy(lm, v, 4, BOS))


def test_gradients_flow_to_the_slots():
    """Autograd's directional derivative of a loss w.r.t. the slots equals a central difference (the
    LLaMA RMSNorm computes in float32 even for a float64 model, so the step is 1e-3, not gradcheck's)."""
    lm = tiny(3, torch.float64)
    toks = torch.tensor([[BOS, 5, 6]])
    v = (0.5 * torch.randn(1, 64, dtype=torch.float64)).requires_grad_(True)

    def loss(x):
        return torch.log_softmax(K.kv_logits(lm, x, toks), -1)[0, :, 7].sum()

    (g,) = torch.autograd.grad(loss(v), v)
    for i in range(3):
        d = torch.randn(1, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            fd = (loss(v + 1e-3 * d) - loss(v - 1e-3 * d)) / 2e-3
        assert abs(float(fd) - float((g * d).sum())) < 1e-2 * max(1.0, abs(float(fd)))
    lm32 = tiny(3)  # and from z through W (float32)
    z = torch.zeros(1, 16, requires_grad=True)
    w = R.projection(lm32, 16, 0, "kv")
    R.injected_logits(lm32, z @ w.T, torch.tensor([[5, 6]]), "kv", BOS).logsumexp(-1).sum().backward()
    assert z.grad is not None and bool(z.grad.abs().sum() > 0)


@pytest.mark.parametrize("dim", [16, 64, 100])
def test_projection_rows_are_scaled_to_each_layers_keys_and_values(dim):
    lm = tiny(4)
    w = R.projection(lm, dim, 5, "kv").double()
    out = K.kv_slots(lm, dim) * K.slot_size(lm)
    scale = K.row_scales(lm, K.kv_slots(lm, dim))
    assert w.shape == (out, dim) and scale.shape == (out,)
    u = w / scale[:, None]  # orthonormal columns (rows when dim > out) times sqrt(out / dim)
    gram = u.T @ u if dim <= out else u @ u.T
    assert torch.allclose(gram, torch.eye(min(out, dim), dtype=torch.float64) * out / dim, atol=1e-4)
    # the scales are the root-mean-square of real keys / values of each layer on the probe
    n = min(K.PROBE_TOKENS, lm.vocab_size)
    probe = torch.linspace(0, lm.vocab_size - 1, n).long()[None]
    kv = K.prompt_kv(lm, probe).reshape(2, 2, 2, n, 8)  # (L, k/v, H, s, D)
    keys0 = kv[0, 0, :, 1:].double()
    assert torch.allclose(K.kv_scales(lm)[0, 0], keys0.pow(2).mean().sqrt())


def test_recovers_sentences_that_some_z_generates():
    lm = tiny(5)
    target = R.decode_vector(lm, torch.randn(4, 64), 5, seed=1, inject="kv", bos_token_id=BOS)
    assert len({tuple(r) for r in target.tolist()}) > 1  # the targets differ
    r = R.recover(lm, target, 64, steps=200, lr=0.1, seed=1, inject="kv", bos_token_id=BOS)
    assert bool(r.exact.all())
    assert torch.equal(r.ids, target)
    again = R.decode_vector(lm, r.z, 5, seed=1, inject="kv", bos_token_id=BOS)
    assert torch.equal(again, target)


def test_bad_input():
    lm = tiny()
    y = torch.tensor([3, 4, 5])
    with pytest.raises(ValueError, match="bos_token_id"):
        R.recover(lm, y, 8, inject="kv")
    with pytest.raises(ValueError, match="bos_token_id"):
        R.decode_vector(lm, torch.zeros(8), 3, inject="kv")
    rnn = SequenceModel(mixer="lstm", d_model=16, n_layers=1, vocab_size=20).eval()
    with pytest.raises(ValueError, match="transformers causal LM"):
        R.recover(rnn, y, 8, inject="kv", bos_token_id=0)
    enc = SequenceModel(mixer="attention", d_model=16, n_layers=1, vocab_size=20, mixer_cfg={"causal": False})
    with pytest.raises(ValueError, match="causal attention"):
        R.recover(enc, y, 8, inject="kv", bos_token_id=0)
    with pytest.raises(ValueError, match="list of ids"):
        R.recover(lm, y, 8, inject="kv", bos_token_id=[])
    with pytest.raises(ValueError, match="shape"):
        K.kv_tensors(lm, torch.zeros(1, 65))
    with pytest.raises(ValueError, match="finite"):
        K.kv_tensors(lm, torch.full((1, 64), float("nan")))
    with pytest.raises(ValueError, match="rows"):
        K.kv_logits(lm, torch.zeros(2, 64), torch.tensor([[3, 4]]))
    with pytest.raises(ValueError, match="token ids"):
        K.kv_logits(lm, torch.zeros(1, 64), torch.zeros(1, 0, dtype=torch.long))


# -- the same injection on seqlab's own attention SequenceModel (slots = its KV-cache state) -------
def seq_lm(seed=0, pos_enc="rope"):
    torch.manual_seed(seed)
    m = SequenceModel(mixer="attention", d_model=32, n_layers=2, vocab_size=20, pos_enc=pos_enc).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


@pytest.mark.parametrize("pos_enc", ["rope", "sinusoidal"])
def test_sequence_model_slots_from_a_prompt_reproduce_running_it(pos_enc):
    m = seq_lm(6, pos_enc)
    assert K.backend(m) == "seq" and K.kv_layout(m) == (
        2,
        m.blocks[0].mixer.n_heads,
        m.blocks[0].mixer.d_head,
    )
    ids = torch.randint(2, 20, (2, 7), generator=torch.Generator().manual_seed(0))
    v = K.prompt_kv(m, ids[:, :3])
    assert v.shape == (2, 3 * K.slot_size(m))
    assert torch.allclose(K.kv_logits(m, v, ids[:, 3:]), m(ids)[:, 3:], atol=1e-5)
    got = K.kv_greedy(m, v, 4, [int(i) for i in ids[0, 3:5]])[:1]
    ref = generate(m, ids[:1, :5], "greedy", max_new_tokens=4, eos_token_id=None)[:, 5:]
    assert torch.equal(got, ref)


def test_sequence_model_recovers_sentences_that_some_z_generates():
    """As for the input-level injections (tests/decode/test_recovery.py): targets that some z*
    generates, most recovered, far more than z = 0 reproduces."""
    m = seq_lm(3)
    dim = 64
    z_star = 4 * torch.randn(6, dim, generator=torch.Generator().manual_seed(0))  # 4x: distinct targets
    target = R.decode_vector(m, z_star, 6, seed=1, inject="kv", bos_token_id=BOS)
    assert len({tuple(t) for t in target.tolist()}) > 3
    r = R.recover(m, target, dim, steps=300, lr=0.3, seed=1, inject="kv", bos_token_id=BOS)
    assert torch.equal(r.exact, (r.ids == target).all(1))
    zero = R.decode_vector(m, torch.zeros(6, dim), 6, seed=1, inject="kv", bos_token_id=BOS)
    assert float(r.exact.float().mean()) >= 0.5 > float((zero == target).all(1).float().mean())


def test_smollm2_slots_from_a_prompt_reproduce_it():
    """The same reference check on the real SmolLM2 (30 layers, 3 key/value heads of 64)."""
    import seqlab.lm as L

    lm = L.load("smollm2-135m")
    assert K.slot_size(lm) == 2 * 30 * 3 * 64
    ids = lm.encode(["The cat sat on the mat."]).ids
    v = K.prompt_kv(lm, ids[:, :3])
    assert torch.allclose(K.kv_logits(lm, v, ids[:, 3:]), lm.logits(ids)[:, 3:], atol=1e-3, rtol=1e-4)
    assert torch.equal(
        K.kv_greedy(lm, K.prompt_kv(lm, ids[:, :-1]), 3, int(ids[0, -1])),
        generate(lm, ids, "greedy", max_new_tokens=3)[:, ids.shape[1] :],
    )
