"""Prompt waywardness (seqlab.decode.waywardness): continuous prompts, projections, steering."""

import pytest
import torch

from seqlab.decode import waywardness as W
from seqlab.decode.small_lm import train_word_lm
from seqlab.models import SequenceModel


def lm(seed=0, v=12):
    torch.manual_seed(seed)
    return SequenceModel(mixer="attention", d_model=16, n_layers=1, vocab_size=v).eval()


def test_class_logits_match_a_plain_loop_over_rows():
    m = lm()
    prompt = torch.randn(3, 16)
    x = torch.tensor([[4, 5, 6, 7], [8, 9, 0, 0]])
    lengths = torch.tensor([4, 2])
    labels = [1, 2, 3]
    got = W.class_logits(m, prompt, x, labels, lengths)
    for i in range(2):
        inp = torch.cat([prompt, m.input_embeddings(x[i : i + 1, : lengths[i]])[0]])[None]
        want = m.forward_embeds(inp).logits[0, -1, labels]
        assert torch.allclose(got[i], want, atol=1e-5)


def test_projection_is_the_nearest_token():
    m = lm(1)
    table = m.embed.weight.detach()
    ids = torch.tensor([3, 0, 11, 3])
    assert torch.equal(W.project(m, table[ids] + 1e-3 * torch.randn(4, 16)), ids)
    p = torch.randn(5, 16)
    plain = torch.tensor([min(range(12), key=lambda v: float((p[i] - table[v]).norm())) for i in range(5)])
    assert torch.equal(W.project(m, p), plain)
    assert torch.equal(
        W.project(m, p, vocab=[2, 7]),
        torch.tensor([[2, 7][int((p[i] - table[7]).norm() < (p[i] - table[2]).norm())] for i in range(5)]),
    )


def test_token_f1():
    assert W.token_f1([1, 2, 3], [3, 2, 1]) == 1.0 and W.token_f1([1, 2], [3, 4]) == 0.0
    assert W.token_f1([1, 1, 2], [1, 2, 2]) == pytest.approx(2 / 3)


def test_task_labels_by_a_plain_loop():
    g = torch.Generator().manual_seed(0)
    x, _ = W.task_batch(50, 6, 0, g)
    x = x[:, :-1]
    for task in range(3):
        y = W.task_labels(x, task)
        for row, lab in zip(x.tolist(), y.tolist(), strict=True):
            s = [t - W.SYMBOLS[0] for t in row]
            want = [s[0], s[-1], max(range(4), key=lambda c: (s.count(c), -c))][task]
            assert lab == want


def test_prompt_solves_the_task_and_waywardness_steers_its_projection():
    g = torch.Generator().manual_seed(0)
    m = train_word_lm(W.toy_corpus(2000, 4, g), W.TOY_VOCAB, seed=0, d_model=32, steps=250)
    labels = list(W.LABELS)
    x, y = W.task_batch(256, 4, 0, g)
    task_prompt = m.input_embeddings(torch.tensor([[W.BOS, W.TASKS[0]]]))[0]
    assert W.accuracy(m, task_prompt, x, y, labels) >= 0.9  # the LM learnt the task
    best = W.tune_prompt(m, x, y, labels, 2, steps=150, seed=0)
    assert W.accuracy(m, best, x, y, labels) >= 0.9
    target = torch.tensor([W.TASKS[1], W.FILLER[3]])
    way = W.tune_prompt(m, x, y, labels, 2, steps=150, seed=0, target=target, gamma=3.0)
    assert torch.equal(W.project(m, way), target)
    assert W.accuracy(m, way, x, y, labels) >= 0.8


def test_bad_input():
    m = lm()
    x, y = torch.tensor([[1, 2], [3, 4]]), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="shape"):
        W.class_logits(m, torch.randn(2, 8), x, [1, 2])
    with pytest.raises(ValueError, match="finite"):
        W.class_logits(m, torch.full((2, 16), float("nan")), x, [1, 2])
    with pytest.raises(ValueError, match="lengths"):
        W.class_logits(m, torch.randn(2, 16), x, [1, 2], lengths=torch.tensor([3, 1]))
    with pytest.raises(ValueError, match="k"):
        W.tune_prompt(m, x, y, [1, 2], 0)
    with pytest.raises(ValueError, match="needs target"):
        W.tune_prompt(m, x, y, [1, 2], 2, gamma=1.0)
    with pytest.raises(ValueError, match="class indices"):
        W.tune_prompt(m, x, torch.tensor([0, 5]), [1, 2], 2)
    with pytest.raises(ValueError, match="token ids"):
        W.class_logits(m, torch.randn(2, 16), x.float(), [1, 2])
