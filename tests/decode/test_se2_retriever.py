"""Se^2's retriever (arXiv 2402.13874): LM feedback lists, contrastive training, per-query search."""

import itertools

import pytest
import torch

from seqlab.decode import se2_retriever as SR
from seqlab.decode.se2 import ICLTask
from seqlab.papers.claims import CLAIMS
from seqlab.registry import get
from tests.decode.test_se2 import WordLM


def test_registered_with_its_paper():
    e = get("decoder", "se2_retriever")
    assert e.obj is SR.retrieve and [p.arxiv for p in e.implements] == ["2402.13874"]


def test_feedback_lists_are_the_lm_scores_along_the_lms_greedy_prefix():
    task = ICLTask()
    # the fake LM likes " positive" more for each "good" word in the prompt
    lm = WordLM(lambda text: {"positive": 0.3 * text.count("good"), "negative": 0.0})
    pool = [("good good", 1), ("bad", 0), ("good", 1), ("meh", 0)]
    queries = [("a film", 1), ("another", 0)]
    fb = SR.collect_feedback(lm, pool, queries, k=2, task=task)
    assert [(q, p) for q, p, _, _ in fb] == [(0, ()), (0, (0,)), (1, ()), (1, (1,))]  # ties: first
    for qi, prefix, cands, scores in fb:
        x, y = queries[qi]
        assert sorted(set(cands.tolist()) | set(prefix)) == [0, 1, 2, 3]
        assert not set(prefix) & set(cands.tolist())
        prompts = [task.prompt([pool[i] for i in (*prefix, c)], x) for c in cands.tolist()]
        assert torch.allclose(scores, task.label_log_probs(lm, prompts)[:, y])


def _synthetic(n_q, n_pool=10, d=8, seed=0):
    """LM scores r(x, c) = 4 cos(P f(x), f(c)) for a fixed random rotation P: learnable by the
    bi-encoder (A = P, B = I), unrelated to the plain cosine the retriever starts from."""
    fixed = torch.Generator().manual_seed(99)  # the pool and P: the same for every set of queries
    rot = torch.linalg.qr(torch.randn(d, d, generator=fixed))[0]
    pf, labels = torch.randn(n_pool, d, generator=fixed), torch.randint(0, 2, (n_pool,), generator=fixed)
    qf = torch.randn(n_q, d, generator=torch.Generator().manual_seed(seed))
    r = 4 * torch.nn.functional.normalize(qf @ rot.T, dim=1) @ torch.nn.functional.normalize(pf, dim=1).T
    fb = SR.Feedback((i, (), torch.arange(n_pool), r[i]) for i in range(n_q))
    return fb, qf, pf, labels, r


def _top1_agreement(model, qf, pf, labels, r):
    with torch.no_grad():
        s = model.scores(qf, None, pf, labels)
    return float((s.argmax(1) == r.argmax(1)).float().mean())


def test_training_on_feedback_learns_the_lms_preferences():
    fb, qf, pf, labels, _ = _synthetic(60)
    _, qt, _, _, rt = _synthetic(40, seed=1)  # held-out queries, same pool
    untrained = SR.Se2Retriever(8, 2)
    model = SR.train_retriever(fb, qf, pf, labels, steps=300, lr=3e-2, seed=0)
    before, after = _top1_agreement(untrained, qt, pf, labels, rt), _top1_agreement(model, qt, pf, labels, rt)
    assert after >= 0.6 and after > before + 0.3  # chance 0.1
    # the loss is the listwise cross-entropy to softmax(r / T): lower after training
    loss = lambda m: float(  # noqa: E731
        sum(SR.listwise_loss(m.scores(qf[[i]], None, pf, labels)[0], lm, 0.5) for i, _, _, lm in fb)
    )
    with torch.no_grad():
        assert loss(model) < loss(untrained)


def test_listwise_loss_is_the_cross_entropy_to_the_lms_softmax():
    s, r = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([-0.2, -3.0, -0.1])
    p = torch.exp(r / 0.5) / torch.exp(r / 0.5).sum()
    want = -(p * (s - torch.logsumexp(s, 0))).sum()
    assert torch.allclose(SR.listwise_loss(s, r, 0.5), want)


def test_retrieve_is_the_brute_force_best_sequence_with_a_wide_beam():
    torch.manual_seed(0)
    model = SR.Se2Retriever(6, 2, d=5).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    qf, pf, labels = torch.randn(3, 6), torch.randn(5, 6), torch.tensor([0, 1, 1, 0, 1])
    got = SR.retrieve(model, qf, pf, labels, k=3, beam_size=60)
    with torch.no_grad():
        keys = model.keys(pf, labels)
    for qi in range(3):  # plain loop over every ordered triple, each pick scored after the ones before it
        best, best_v = None, -float("inf")
        for seq in itertools.permutations(range(5), 3):
            v = 0.0
            for j in range(3):
                ctx = pf[list(seq[:j])].mean(0) if j else torch.zeros(6)
                with torch.no_grad():
                    q = model.queries(qf[[qi]], ctx[None])
                v += float((q @ keys[seq[j]]) / model.tau)
            if v > best_v + 1e-9:
                best, best_v = seq, v
        assert got[qi] == best
    # sequential: the prefix changes the next pick's scores
    empty, after_one = model.scores(qf[:1], None, pf, labels), model.scores(qf[:1], pf[:1], pf, labels)
    assert not torch.allclose(empty, after_one)


def test_bad_input():
    lm = WordLM(lambda text: {"positive": 0.0, "negative": 0.0})
    with pytest.raises(ValueError, match="k <= pool"):
        SR.collect_feedback(lm, [("a", 0)], [("b", 1)], k=2)
    with pytest.raises(ValueError, match="training query"):
        SR.collect_feedback(lm, [("a", 0)], [], k=1)
    with pytest.raises(ValueError, match="feedback"):
        SR.train_retriever(SR.Feedback(), torch.zeros(1, 4), torch.zeros(2, 4), torch.zeros(2))
    with pytest.raises(ValueError, match="features"):
        SR.retrieve(SR.Se2Retriever(4, 2), torch.zeros(2, 3), torch.zeros(5, 4), torch.zeros(5), k=2)
    with pytest.raises(ValueError, match="tau"):
        SR.Se2Retriever(4, 2, tau=0.0)


def _row(random_=0.6, nearest=0.6, zero=0.55, se2=0.6, retr=0.6, j=0.0):
    acc = {"acc_zero_shot": zero, "acc_random": random_, "acc_nearest": nearest, "acc_se2": se2}
    return {
        "se2": {
            **acc,
            "acc_se2_retriever": retr + j,
            "gain_se2_retriever": retr + j - random_,
            "gain_se2": se2 - random_,
            "gain_nearest": nearest - random_,
            "retriever_distinct_sequences": 5,
        }
    }


def test_se2_retriever_criterion():
    c = CLAIMS["se2_retriever_icl"]
    assert c.make_runs(0)["se2"].params == {"retriever": True}

    def judge(**kw):
        return c.judge({s: _row(j=j, **kw) for s, j in zip(c.seeds, (0.0, 0.01, 0.02), strict=True)}).status

    assert judge() != "passed"  # the retriever's picks = random
    assert judge(retr=0.5) == "failed"
    assert judge(retr=0.8) == "passed"
    assert judge(retr=0.8, nearest=0.85) != "passed"  # nearest-neighbour selection is better
    assert judge(retr=0.8, se2=0.9) != "passed"  # the dev-split search alone does better
    assert judge(retr=0.8, zero=0.9) != "passed"  # demonstrations do not help at all
    assert judge(retr=0.6, random_=0.5, nearest=0.5, zero=0.5) == "inconclusive"  # control missed
