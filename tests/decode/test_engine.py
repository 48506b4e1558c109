"""seqlab.decode over SequenceModel: step decoding == re-running the prefix, beam families, sampling."""

import pytest
import torch

import seqlab.decode as D
from seqlab.models import SequenceModel
from seqlab.registry import create, names

V, EOS = 13, 12
STEP_MIXERS = [n for n in names("mixer") if "step" in create("mixer", n, d_model=16).modes]


def model(mixer="lstm", seed=0, **kw):
    torch.manual_seed(seed)
    return SequenceModel(mixer=mixer, d_model=16, n_layers=2, vocab_size=V, **kw).eval()


def prompts(b=3, t=4, seed=1):
    return torch.randint(0, V - 1, (b, t), generator=torch.Generator().manual_seed(seed))


class Recompute:
    """A language model whose 'state' is the whole prefix: every step re-runs the full sequence."""

    is_causal, eos_token_id, pad_token_id, context_length = True, None, None, None

    def __init__(self, m):
        self.m, self.vocab_size = m, m.vocab_size

    def prefill(self, ids, mask=None):
        return self.m(ids)[:, -1].float(), ids

    def step(self, tokens, prefix):
        prefix = torch.cat([prefix, tokens[:, None]], 1)
        return self.m(prefix)[:, -1].float(), prefix

    def reorder_state(self, prefix, index):
        return prefix.index_select(0, index)


@pytest.mark.parametrize("mixer", STEP_MIXERS)
def test_step_decoding_equals_rerunning_the_prefix(mixer):
    m = model(mixer)
    ids = prompts()
    with torch.no_grad():
        ref = ids
        for _ in range(5):
            ref = torch.cat([ref, m(ref)[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(D.generate(m, ids, "greedy", max_new_tokens=5), ref)
    kw = dict(num_beams=3, max_new_tokens=5, eos_token_id=EOS, num_return_sequences=3)
    assert torch.equal(D.generate(m, ids, "beam", **kw), D.generate(Recompute(m), ids, "beam", **kw))


def test_beam_reorders_the_recurrent_state():
    """A state reorder that is wrong (identity) must change the beams: the test above can fail."""
    m = model("gru", seed=3)
    ids = prompts(2, 3)
    kw = dict(num_beams=4, max_new_tokens=6, eos_token_id=None, num_return_sequences=4)
    good = D.generate(m, ids, "beam", **kw)

    class NoReorder(Recompute):
        def reorder_state(self, prefix, index):
            return prefix

    assert torch.equal(good, D.generate(Recompute(m), ids, "beam", **kw))
    assert not torch.equal(good, D.generate(NoReorder(m), ids, "beam", **kw))


@pytest.mark.parametrize(
    "kw",
    [
        dict(num_beams=4, length_penalty=1.0, early_stopping=False),
        dict(num_beams=3, length_penalty=0.5, early_stopping=True),
        dict(num_beams=2, length_penalty=2.0, early_stopping="never", num_return_sequences=2),
    ],
)
def test_diverse_beam_with_one_group_and_no_penalty_is_beam(kw):
    m = model("gateloop", seed=2)
    ids = prompts()
    ref = D.generate(m, ids, "beam", max_new_tokens=7, eos_token_id=EOS, **kw)
    got = D.generate(
        m, ids, "diverse_beam", max_new_tokens=7, eos_token_id=EOS, num_groups=1, diversity_strength=0.0, **kw
    )
    assert torch.equal(ref, got)


def test_diversity_penalty_separates_groups():
    m = model("lstm", seed=4)
    ids = prompts(2, 3)
    kw = dict(num_beams=4, num_groups=4, max_new_tokens=4, eos_token_id=None, num_return_sequences=4)
    same = D.generate(m, ids, "diverse_beam", diversity_strength=0.0, **kw).view(2, 4, -1)
    diverse = D.generate(m, ids, "diverse_beam", diversity_strength=1e3, **kw).view(2, 4, -1)
    first = diverse[:, :, ids.shape[1]]
    assert all(len(set(row.tolist())) == 4 for row in first)  # each group opened with its own token
    assert all(
        len(set(row.tolist())) == 1 for row in same[:, :, ids.shape[1]]
    )  # no penalty: identical groups


def test_beam_of_one_without_eos_is_greedy():
    m = model("lru")
    ids = prompts()
    g = D.generate(m, ids, "greedy", max_new_tokens=6, eos_token_id=None)
    assert torch.equal(D.generate(m, ids, "beam", num_beams=1, max_new_tokens=6, eos_token_id=None), g)


def test_beam_scores_at_least_greedy():
    """With no length penalty, beam search's best sequence is at least as likely as greedy's."""
    m = model("lstm", seed=5)
    ids = prompts(4, 3)

    def logprob(seqs):
        with torch.no_grad():
            lp = m(seqs[:, :-1]).log_softmax(-1).gather(2, seqs[:, 1:, None])[..., 0]
        return lp[:, ids.shape[1] - 1 :].sum(1)

    g = D.generate(m, ids, "greedy", max_new_tokens=5, eos_token_id=None)
    b = D.generate(m, ids, "beam", num_beams=4, max_new_tokens=5, eos_token_id=None, length_penalty=0.0)
    assert (logprob(b) >= logprob(g) - 1e-5).all()


def test_eos_finishes_rows_and_pads_them():
    m = model("lstm")
    ids = prompts(4, 3)
    free = D.generate(m, ids, "greedy", max_new_tokens=6, eos_token_id=None)
    stop_tok = int(free[0, ids.shape[1] + 1])  # row 0 emits this as its second new token
    out = D.generate(m, ids, "greedy", max_new_tokens=6, eos_token_id=stop_tok, pad_token_id=V - 1)
    row = out[0, ids.shape[1] :].tolist()
    k = row.index(stop_tok)
    assert k <= 1 and all(t == V - 1 for t in row[k + 1 :])


def test_constrained_beam_stays_in_the_trie():
    m = model("lstm", seed=6)
    ids = prompts(3, 4)
    seqs = [[1, 2, 3], [1, 2, 4], [5, 6, 7], [8], [9, 9]]
    trie = D.PrefixTrie(seqs)
    out = D.generate(
        m, ids, "constrained_beam", trie=trie, num_beams=4, eos_token_id=EOS, num_return_sequences=4
    )
    assert out.shape == (12, 4 + 4)
    for row in out[:, 4:].tolist():
        body = row[: row.index(EOS)]
        assert body in seqs and all(t == EOS for t in row[len(body) :])
    one = D.PrefixTrie([[3, 1, 4]])
    assert (
        D.generate(m, ids, "constrained_beam", trie=one, num_beams=2, eos_token_id=EOS)[:, 4:].tolist()
        == [[3, 1, 4, EOS]] * 3
    )


def test_trie_from_semantic_ids_tensor():
    codes = torch.tensor([[0, 1, 2], [0, 1, 3], [2, 2, 2]])
    t = D.PrefixTrie(codes)
    assert len(t) == 3 and t.depth == 3
    assert t.allowed([]) == [0, 2] and t.allowed([0, 1]) == [2, 3] and t.allowed([1]) == []
    assert t.complete([2, 2, 2]) and not t.complete([0, 1])


def test_trie_and_constraint_errors():
    with pytest.raises(ValueError, match="admits no sequence"):
        D.PrefixTrie([])
    with pytest.raises(ValueError, match="admits no sequence"):
        D.PrefixTrie(torch.zeros(0, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="at least one token"):
        D.PrefixTrie([[1], []])
    with pytest.raises(ValueError, match="non-negative int"):
        D.PrefixTrie([[1, -2]])
    m, ids = model(), prompts()
    trie = D.PrefixTrie([[1, 2, 3]])
    with pytest.raises(ValueError, match="needs trie=PrefixTrie"):
        D.generate(m, ids, "constrained_beam", eos_token_id=EOS)
    with pytest.raises(ValueError, match="expected a PrefixTrie"):
        D.generate(m, ids, "constrained_beam", trie="1 2", eos_token_id=EOS)
    with pytest.raises(ValueError, match="admits no sequence"):
        D.generate(m, ids, "constrained_beam", trie=[], eos_token_id=EOS)
    with pytest.raises(ValueError, match="cannot finish"):
        D.generate(m, ids, "constrained_beam", trie=trie, eos_token_id=EOS, max_new_tokens=2)
    with pytest.raises(ValueError, match="needs an eos_token_id"):
        D.generate(m, ids, "constrained_beam", trie=trie)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        D.generate(m, ids, "constrained_beam", trie=D.PrefixTrie([[V + 5]]), eos_token_id=EOS)


def test_sampling_is_reproducible_and_filters():
    m, ids = model("lstm"), prompts()
    g = D.generate(m, ids, "greedy", max_new_tokens=6)

    def s(seed, **kw):
        return D.generate(
            m, ids, "sample", max_new_tokens=6, generator=torch.Generator().manual_seed(seed), **kw
        )

    assert torch.equal(s(0, top_k=1), g)
    assert torch.equal(s(0, top_p=1e-6), g)
    assert torch.equal(s(0, temperature=3.0), s(0, temperature=3.0))
    assert not torch.equal(s(0, temperature=3.0), s(1, temperature=3.0))


def test_filter_logits_keeps_top_k_and_the_nucleus():
    z = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    keep = lambda **kw: torch.isfinite(D.filter_logits(z, **kw))[0].tolist()  # noqa: E731
    assert keep(top_k=2) == [True, True, False, False]
    assert keep(top_p=0.5) == [True, False, False, False]
    assert keep(top_p=0.8) == [True, True, False, False]
    assert keep(top_p=0.81) == [True, True, True, False]
    assert torch.allclose(D.filter_logits(z, temperature=2.0), z / 2)


def test_bad_input_is_a_clear_error():
    m, ids = model(), prompts()
    with pytest.raises(ValueError, match="num_beams must be an int >= 1"):
        D.generate(m, ids, "beam", num_beams=0)
    with pytest.raises(ValueError, match="unknown generation method 'nucleus'.*greedy"):
        D.generate(m, ids, "nucleus")
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 1"):
        D.generate(m, ids, "greedy", max_new_tokens=0)
    with pytest.raises(ValueError, match="explicit generator"):
        D.generate(m, ids, "sample")
    with pytest.raises(ValueError, match="top_p must lie in"):
        D.generate(m, ids, "sample", top_p=0.0, generator=torch.Generator())
    with pytest.raises(ValueError, match="num_groups must be an int >= 1 dividing"):
        D.generate(m, ids, "diverse_beam", num_beams=4, num_groups=3)
    with pytest.raises(ValueError, match="integer token ids"):
        D.generate(m, ids.float(), "greedy")
    with pytest.raises(ValueError, match=r"token ids in \[0, 13\)"):
        D.generate(m, ids + V, "greedy")
    with pytest.raises(ValueError, match="no padding"):
        D.generate(m, ids, "greedy", attention_mask=torch.ones_like(ids).index_fill(1, torch.tensor([0]), 0))
    short = model("attention", pos_enc="sinusoidal", max_len=8)
    with pytest.raises(ValueError, match="exceeds the model's context of 8 tokens"):
        D.generate(short, ids, "greedy", max_new_tokens=5)
    enc = SequenceModel(mixer="attention", d_model=16, n_layers=1, vocab_size=V, mixer_cfg={"causal": False})
    with pytest.raises(ValueError, match="needs a causal language model"):
        D.generate(enc, ids, "greedy")


def test_sequence_model_language_model_interface():
    m, ids = model("gateloop"), prompts()
    hs = m.hidden_states(ids)
    assert len(hs) == m.n_layers + 1 and all(h.shape == (3, 4, 16) for h in hs)
    with torch.no_grad():
        assert torch.allclose(m.head(hs[-1]), m.logits(ids), atol=1e-6)
        out = m.forward_embeds(m.input_embeddings(ids))
        assert torch.allclose(out.logits, m(ids), atol=1e-6) and len(out.hidden_states) == 3
    bad = m.input_embeddings(ids).detach().clone()
    bad[0, 1, 2] = float("nan")
    with pytest.raises(ValueError, match="finite input embeddings"):
        m.forward_embeds(bad)
    for call in (lambda: m.encode(["hi"]), lambda: m.decode(ids)):
        with pytest.raises(ValueError, match="no tokenizer"):
            call()
    logits, state = m.prefill(ids)
    swapped = m.reorder_state(state, torch.tensor([2, 0, 0]))
    l2, _ = m.step(torch.tensor([1, 2, 2]), swapped)
    l0, _ = m.step(torch.tensor([2, 1, 1]), state)
    assert torch.allclose(l2[0], l0[2], atol=1e-5) and torch.allclose(l2[1], l0[0], atol=1e-5)


def test_decoders_are_registered_with_papers():
    from seqlab.registry import get

    assert {"greedy", "sample", "beam", "diverse_beam", "constrained_beam", "pointer"} <= set(
        names("decoder")
    )
    dbs = get("decoder", "diverse_beam")
    text = str(getattr(dbs, "implements", "")) + str(getattr(dbs, "papers", ""))
    assert "Diverse Beam Search" in text


def test_pointer_decoder_points_at_a_permutation():
    from seqlab.registry import create as make

    torch.manual_seed(0)
    net = make("model", "pointer_network", d_input=2, d_model=16).eval()
    x = torch.rand(3, 5, 2)
    idx = D.pointer.pointer(net, x)
    assert idx.shape == (3, 5) and all(sorted(r) == list(range(5)) for r in idx.tolist())
    with pytest.raises(ValueError, match="PointerNetwork"):
        D.pointer.pointer(model(), x)


def test_constrained_beam_over_the_semantic_id_trie():
    """The trie of seqlab.tokenize's semantic-ids tokenizer: every decoded row is a catalogue item."""
    from seqlab.registry import create as make

    tok = make("tokenizer", "semantic-ids", levels=2, codebook_size=4)
    tok.fit(torch.randn(40, 8, generator=torch.Generator().manual_seed(0)))
    ids_table = tok.ids
    width = ids_table.shape[1]
    vocab = int(ids_table.max()) + 2
    eos = vocab - 1
    torch.manual_seed(0)
    m = SequenceModel(mixer="lstm", d_model=16, n_layers=1, vocab_size=vocab).eval()
    prompt = torch.zeros(2, 3, dtype=torch.long)
    out = D.generate(
        m, prompt, "constrained_beam", trie=tok.trie(), num_beams=4, eos_token_id=eos, num_return_sequences=4
    )
    rows = out[:, 3 : 3 + width]
    assert tok.decode(rows).shape == (8,)  # every row is a valid semantic ID (decode raises otherwise)
    assert bool((out[:, 3 + width] == eos).all())
