"""Se^2 (arXiv 2402.13874): beam search over demonstration sequences, LM feedback, baselines, the claim."""

import itertools
import random

import pytest
import torch

from seqlab.decode.se2 import (
    ICLTask,
    accuracy,
    beam_select,
    load_polarity,
    nearest_demos,
    random_demos,
    se2_experiment,
    se2_select,
)
from seqlab.lm.interface import Encoded
from seqlab.papers.claims import CLAIMS
from seqlab.registry import get


class WordLM:
    """A fake causal LM over whitespace words: the next-token logits of a prompt are ``fn(prompt text)``."""

    is_causal = True

    def __init__(self, fn):
        self.fn, self.words = fn, {}

    def _id(self, w):
        return self.words.setdefault(w, len(self.words))

    def encode(self, texts):
        rows = [[self._id(w) for w in t.replace("\n", " \n ").split(" ") if w] for t in texts]
        n = max(len(r) for r in rows)
        ids = torch.tensor([[0] * (n - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (n - len(r)) + [1] * len(r) for r in rows])
        return Encoded(ids, mask)

    def prefill(self, ids, mask):
        inv = {i: w for w, i in self.words.items()}
        out = torch.full((ids.shape[0], 64), -5.0)
        for b in range(ids.shape[0]):
            text = " ".join(inv[int(i)] for i, m in zip(ids[b], mask[b], strict=True) if m)
            for word, value in self.fn(text).items():
                out[b, self._id(word)] = value
        return out, None


def test_registered_with_its_paper():
    e = get("decoder", "se2")
    assert e.obj is se2_select and [p.arxiv for p in e.implements] == ["2402.13874"]


def _pairwise_score(w, pair):
    def score(seqs):
        return [sum(w[i] for i in s) + sum(pair[a][b] for a, b in itertools.pairwise(s)) for s in seqs]

    return score


def test_beam_search_with_a_wide_beam_is_exhaustive_and_beam_one_is_greedy():
    g = torch.Generator().manual_seed(0)
    w, pair = torch.randn(6, generator=g).tolist(), torch.randn(6, 6, generator=g).tolist()
    score = _pairwise_score(w, pair)
    best = max(itertools.permutations(range(6), 3), key=lambda s: score([s])[0])
    beams = beam_select(score, 6, 3, beam_size=6 * 5 * 4)
    assert beams[0][0] == best and beams[0][1] == pytest.approx(score([best])[0])
    assert [b[1] for b in beams] == sorted((b[1] for b in beams), reverse=True)
    assert all(len(set(s)) == 3 for s, _ in beams)
    # beam 1: the plain greedy loop
    seq = ()
    for _ in range(3):
        seq = max((seq + (c,) for c in range(6) if c not in seq), key=lambda s: score([s])[0])
    assert beam_select(score, 6, 3, beam_size=1)[0][0] == seq


def test_beam_search_can_beat_greedy_on_an_order_dependent_score():
    # greedy takes 0 first (best alone) but the pair (1, 2) is worth more
    w = [1.0, 0.9, 0.0]
    pair = [[0, 0, 0], [0, 0, 2.0], [0, 0, 0]]
    score = _pairwise_score(w, pair)
    assert beam_select(score, 3, 2, beam_size=1)[0][0][0] == 0
    assert beam_select(score, 3, 2, beam_size=2)[0][0] == (1, 2)


def test_beam_select_bad_input():
    score = _pairwise_score([0.0] * 3, [[0.0] * 3] * 3)
    with pytest.raises(ValueError, match="k=4 distinct"):
        beam_select(score, 3, 4, 2)
    with pytest.raises(ValueError, match="beam_size an int >= 1"):
        beam_select(score, 3, 2, 0)
    with pytest.raises(ValueError, match="returned 1 values"):
        beam_select(lambda seqs: [0.0], 3, 1, 1)


def test_prompt_format_and_label_words():
    task = ICLTask(max_words=3)
    p = task.prompt([("a fine film indeed", 1)], "dull and long and slow")
    assert p == "Review: a fine film\nSentiment: positive\n\nReview: dull and long\nSentiment:"
    lm = WordLM(lambda text: {})
    assert len(task.label_ids(lm)) == 2
    with pytest.raises(ValueError, match="one token"):
        ICLTask(label_words=(" very negative", " positive")).label_ids(lm)


def _copy_last_label_lm():
    """Answers with the label of the last demonstration (or negative without one)."""

    def fn(text):
        said = [w for w in text.split() if w in ("positive", "negative")]
        last = said[-1] if said else "negative"
        return {last: 3.0, ("negative" if last == "positive" else "positive"): 0.0}

    return WordLM(fn)


def test_lm_feedback_scores_and_se2_selects_the_brute_force_best_sequence():
    lm = _copy_last_label_lm()
    task = ICLTask()
    lp = task.label_log_probs(
        lm, ["Review: x\nSentiment:", "Review: y\nSentiment: positive\n\nReview: z\nSentiment:"]
    )
    assert torch.allclose(lp.exp().sum(1), torch.ones(2))
    assert int(lp[0].argmax()) == 0 and int(lp[1].argmax()) == 1
    pool = [("bad", 0), ("good", 1), ("awful", 0), ("great", 1)]
    dev = [("fine", 1), ("nice", 1), ("poor", 0)]  # mostly positive: end on a positive demonstration

    def mean_gold(seq):
        lps = task.label_log_probs(lm, [task.prompt([pool[i] for i in seq], x) for x, _ in dev])
        return float(sum(lps[j, y] for j, (_, y) in enumerate(dev)) / len(dev))

    best = max(mean_gold(s) for s in itertools.permutations(range(4), 2))
    beams = se2_select(lm, pool, dev, k=2, beam_size=12, task=task)
    assert beams[0][1] == pytest.approx(best, abs=1e-5) and pool[beams[0][0][-1]][1] == 1
    assert accuracy(task, lm, [[pool[i] for i in beams[0][0]]] * 3, dev) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="development set"):
        se2_select(lm, pool, [], k=2)


def test_random_and_nearest_demonstrations():
    rows = random_demos(10, 3, 50, random.Random(0))
    assert len(rows) == 50 and all(len(set(r)) == 3 and max(r) < 10 for r in rows)
    assert rows == random_demos(10, 3, 50, random.Random(0))
    g = torch.Generator().manual_seed(0)
    pool, queries = torch.randn(7, 5, generator=g), torch.randn(3, 5, generator=g)
    near = nearest_demos(pool, queries, 2)
    for q, row in zip(queries, near, strict=True):
        cos = [float(torch.nn.functional.cosine_similarity(q, p, dim=0)) for p in pool]
        order = sorted(range(7), key=lambda i: -cos[i])[:2]
        assert list(row) == order[::-1]  # most similar last, next to the query
    with pytest.raises(ValueError, match="embeddings"):
        nearest_demos(pool, torch.randn(3, 4), 2)
    with pytest.raises(ValueError, match="1 <= k <= 7"):
        nearest_demos(pool, queries, 8)


def test_polarity_data_and_bad_file(tmp_path):
    data = load_polarity()
    assert len(data) == 200 and sum(y for _, y in data) == 100 and all(t for t, _ in data)
    bad = tmp_path / "bad.cor"
    bad.write_text("__label__pos fine\nneutral words\n")
    with pytest.raises(ValueError, match="bad.cor:2"):
        load_polarity(bad)


def test_encoder_is_refused():
    class Encoder(WordLM):
        is_causal = False

    with pytest.raises(ValueError, match="causal LM"):
        ICLTask().label_log_probs(Encoder(lambda t: {}), ["x"])
    with pytest.raises(ValueError, match="unknown params"):
        se2_experiment({"pool": 3}, 0)


def test_smollm2_label_feedback():
    import seqlab.lm

    lm = seqlab.lm.load("smollm2-135m")
    task = ICLTask()
    assert len(set(task.label_ids(lm))) == 2  # " negative" and " positive" are single tokens
    demos = [("a gorgeous , moving film", 1), ("a dull , tedious mess", 0)]
    lp = task.label_log_probs(lm, [task.prompt(demos, "a wonderful film"), task.prompt(demos, "awful")])
    assert lp.shape == (2, 2) and torch.allclose(lp.exp().sum(1), torch.ones(2), atol=1e-5)


# -- criterion tests --------------------------------------------------------------------------------
def _row(se2=0.7, random_=0.7, nearest=0.7, zero=0.5, j=0.0):
    acc = {"acc_se2": se2 + j, "acc_random": random_, "acc_nearest": nearest, "acc_zero_shot": zero}
    return {
        "se2": {
            **acc,
            "gain_se2": acc["acc_se2"] - random_,
            "gain_nearest": nearest - random_,
            "se2_dev_acc": 1.0,
        }
    }


def test_se2_criterion():
    c = CLAIMS["se2_icl"]
    jit = (0.0, 0.01, 0.02)

    def judge(**kw):
        return c.judge({s: _row(j=j, **kw) for s, j in zip(c.seeds, jit, strict=True)}).status

    assert judge() != "passed"  # Se^2 = random
    assert judge(se2=0.5) == "failed"
    assert judge(se2=0.8) == "passed"
    assert judge(se2=0.8, nearest=0.85) != "passed"  # nearest-neighbour selection is better
    assert judge(se2=0.8, zero=0.9) != "passed"  # demonstrations do not help at all
    assert judge(se2=0.6, random_=0.5, nearest=0.5, zero=0.5) == "inconclusive"  # no ICL: control missed
