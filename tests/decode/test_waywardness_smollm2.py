"""Prompt waywardness on SmolLM2: right padding, the head at chosen positions, batched accuracy,
token-initialised prompts, the experiment's data helpers, and one slow run on the real model."""

import pytest
import torch

from seqlab.decode import waywardness as W
from seqlab.decode import waywardness_smollm2 as S
from seqlab.lm.interface import Encoded, LMOutput
from seqlab.models import SequenceModel


def lm(seed=0, v=12):
    torch.manual_seed(seed)
    return SequenceModel(mixer="attention", d_model=16, n_layers=1, vocab_size=v).eval()


def test_right_padded_against_a_plain_loop():
    ids = torch.tensor([[0, 0, 5, 6, 7], [3, 4, 5, 6, 7], [0, 0, 0, 0, 9]])
    mask = (ids != 0).long()
    got, lengths = W.right_padded(ids, mask, pad_id=1)
    assert lengths.tolist() == [3, 5, 1]
    for row, m, out in zip(ids.tolist(), mask.tolist(), got.tolist(), strict=True):
        real = [t for t, keep in zip(row, m, strict=True) if keep]
        assert out == real + [1] * (len(row) - len(real))
    same, _ = W.right_padded(got, (torch.arange(5)[None] < lengths[:, None]).long(), pad_id=1)
    assert torch.equal(same, got)  # already right-padded rows stay as they are


def test_right_padded_bad_input():
    ids = torch.tensor([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="mask of the ids' shape"):
        W.right_padded(ids, torch.ones(2, 3))
    with pytest.raises(ValueError, match="at least one real token"):
        W.right_padded(ids, torch.tensor([[1, 1], [0, 0]]))
    with pytest.raises(ValueError, match="batch, length"):
        W.right_padded(torch.tensor([1, 2]), torch.tensor([1, 1]))


def test_columns_after_the_longest_row_change_nothing():
    m = lm(2)
    prompt = torch.randn(2, 16)
    x = torch.tensor([[4, 5, 6, 0, 0], [8, 9, 0, 0, 0]])
    lengths = torch.tensor([3, 2])
    got = W.class_logits(m, prompt, x, [1, 2], lengths)
    assert torch.allclose(got, W.class_logits(m, prompt, x[:, :3], [1, 2], lengths), atol=1e-6)
    junk = x.clone()
    junk[0, 3:] = 7
    junk[1, 2:] = 3
    assert torch.allclose(got, W.class_logits(m, prompt, junk, [1, 2], lengths), atol=1e-5)


def test_batched_accuracy_equals_one_batch():
    m = lm(3)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(3, 12, (23, 6), generator=g)
    lengths = torch.randint(1, 7, (23,), generator=g)
    y = torch.randint(0, 2, (23,), generator=g)
    prompt = torch.randn(3, 16, generator=g)
    want = W.accuracy(m, prompt, x, y, [1, 2], lengths)
    for b in (1, 4, 23, 50):
        assert W.accuracy(m, prompt, x, y, [1, 2], lengths, batch_size=b) == pytest.approx(want)
    one = [W.class_logits(m, prompt, x[i : i + 1, : lengths[i]], [1, 2])[0] for i in range(23)]
    plain = sum(int(logits.argmax() == y[i]) for i, logits in enumerate(one))
    assert want == pytest.approx(plain / 23)
    with pytest.raises(ValueError, match="batch_size"):
        W.accuracy(m, prompt, x, y, [1, 2], lengths, batch_size=0)


def test_an_empty_prompt_is_the_bare_input():
    m = lm(4)
    x = torch.tensor([[4, 5, 6]])
    got = W.class_logits(m, torch.zeros(0, 16), x, [1, 2])
    assert torch.allclose(got[0], m.forward_embeds(m.input_embeddings(x)).logits[0, -1, [1, 2]], atol=1e-6)


def test_tune_prompt_starts_from_the_init_tokens():
    m = lm(5)
    x, y = torch.tensor([[3, 4], [5, 6]]), torch.tensor([0, 1])
    init = torch.tensor([7, 2, 9])
    start = W.tune_prompt(m, x, y, [1, 2], 3, steps=0, init=init)
    assert torch.equal(start, m.embed.weight[init].detach())
    moved = W.tune_prompt(m, x, y, [1, 2], 3, steps=5, init=init)
    assert not torch.equal(moved, start)
    with pytest.raises(ValueError, match="init as 3 token ids"):
        W.tune_prompt(m, x, y, [1, 2], 3, init=torch.tensor([1, 2]))


class _TinyHF:
    """A ``transformers`` causal LM (random tiny LLaMA) behind the members the waywardness code uses."""

    is_causal = True

    def __init__(self):
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        cfg = LlamaConfig(
            vocab_size=40,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=64,
        )
        self.model = LlamaForCausalLM(cfg).eval()
        self.d_model, self.vocab_size = 16, 40

    def input_embeddings(self, ids):
        return self.model.get_input_embeddings()(ids)

    def forward_embeds(self, embeds, mask=None):
        return LMOutput(self.model(inputs_embeds=embeds).logits, ())


def test_head_at_chosen_positions_equals_the_full_logits():
    m = _TinyHF()
    assert W._hf_causal(m) and not W._hf_causal(lm())
    e = torch.randn(4, 7, 16)
    pos = torch.tensor([6, 2, 4, 2])
    full = m.forward_embeds(e).logits[torch.arange(4), pos]
    assert torch.allclose(W._logits_at(m, e, pos), full, atol=1e-5)
    # and the gradient wrt the inputs is the same too
    e1, e2 = e.clone().requires_grad_(True), e.clone().requires_grad_(True)
    (g1,) = torch.autograd.grad(W._logits_at(m, e1, pos)[:, 3].sum(), e1)
    (g2,) = torch.autograd.grad(m.forward_embeds(e2).logits[torch.arange(4), pos, 3].sum(), e2)
    assert torch.allclose(g1, g2, atol=1e-5)


def test_split_is_seeded_and_disjoint():
    data = [(f"s{i}", i % 2) for i in range(30)]
    tr, te = S.split(data, 10, 15, seed=3)
    assert len(tr) == 10 and len(te) == 15 and not set(tr) & set(te)
    assert S.split(data, 10, 15, seed=3) == (tr, te) and S.split(data, 10, 15, seed=4) != (tr, te)
    with pytest.raises(ValueError, match="n_train"):
        S.split(data, 20, 11, seed=0)


class _FakeTok:
    all_special_ids = [0, 1]


class _FakeLM:
    """Whitespace 'tokenizer' over a fixed word list, left padding like the causal HF wrapper."""

    vocab = ["<pad>", "<s>", "Review:", "good", "bad", "film", "\nSentiment:", " negative", " positive"]
    vocab_size, pad_token_id, tokenizer = len(vocab), 0, _FakeTok()

    def encode(self, texts):
        rows = [[self.vocab.index(w) for w in t.replace("\n", " \n").split(" ") if w] for t in texts]
        width = max(map(len, rows))
        ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
        return Encoded(ids, (ids != 0).long())


def test_encode_rows_right_pads_the_zero_shot_prompts():
    task = S.ICLTask(max_words=2, label_words=("negative", "positive"))
    x, lengths, y = S.encode_rows(_FakeLM(), [("good film good", 1), ("bad", 0)], task)
    # "Review: good film\nSentiment:" -> 4 tokens; "Review: bad\nSentiment:" -> 3 tokens then padding
    assert x.tolist() == [[2, 3, 5, 6], [2, 4, 6, 0]] and lengths.tolist() == [4, 3] and y.tolist() == [1, 0]


def test_text_ids_and_random_tokens():
    fake = _FakeLM()
    assert S.text_ids(fake, "good film").tolist() == [3, 5]
    with pytest.raises(ValueError, match="must be 3 tokens"):
        S.text_ids(fake, "good film", 3)
    drawn = S.random_tokens(fake, 200, torch.Generator().manual_seed(0))
    assert drawn.shape == (200,) and set(drawn.tolist()) == set(range(2, fake.vocab_size))


def test_experiment_rejects_unknown_params():
    with pytest.raises(ValueError, match="unknown params"):
        S.waywardness_smollm2_experiment({"gama": 1.0}, 0)


@pytest.mark.slow
def test_on_smollm2_rows_and_a_tiny_run():
    import seqlab.lm

    model = seqlab.lm.load("smollm2-135m")
    task = S.ICLTask(max_words=4)
    rows = [("a truly wonderful film", 1), ("dull", 0)]
    x, lengths, _ = S.encode_rows(model, rows, task)
    labels = task.label_ids(model)
    prompt = model.input_embeddings(torch.tensor([[504, 3575]]))[0]
    got = W.class_logits(model, prompt, x, labels, lengths)
    for i in range(2):  # each row alone, unpadded, through the wrapper's own forward_embeds
        alone = model.encode([task.prompt([], rows[i][0])]).ids
        assert torch.equal(alone[0], x[i, : lengths[i]])
        inp = torch.cat([prompt, model.input_embeddings(alone)[0]])[None]
        assert torch.allclose(got[i], model.forward_embeds(inp).logits[0, -1, labels], atol=1e-3)
    out = S.waywardness_smollm2_experiment(
        {"n_train": 2, "n_test": 2, "steps": 1, "batch_size": 2, "max_words": 4, "eval_batch": 2}, 0
    )
    assert out["n_targets"] == 2 and out["chance"] == 0.5
    for key in ("acc_none", "acc_hand", "acc_random_tokens", "acc_continuous", "acc_wayward_0"):
        assert out[key] in (0.0, 0.5, 1.0)
    for j in range(2):  # one step from the target tokens: the projection is still the target
        assert out[f"f1_wayward_{j}"] == 1.0 and out[f"projection_{j}"] == S.TARGETS[j]
