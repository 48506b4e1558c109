"""The TIMeSynC v2 cell's split and hits, and criterion tests of its three claims: trivial predictors
never pass, a model at the prior is inconclusive, each criterion can pass."""

import pytest
import torch

from seqlab.experiments.cell import get_experiment
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_recsys_timesync2 import CLAIMS as TS
from seqlab.papers.status import STATUS
from seqlab.recsys.data import Interactions, leave_one_out
from seqlab.recsys.timesync import genre_matrix, intent_hits
from seqlab.recsys.timesync_experiment import future_split, step_hits
from tests.recsys.test_timesync import TEXTS


def test_future_split_holds_out_the_last_k_items_of_each_user():
    users, items, times = [], [], []
    for u, n in enumerate((6, 8)):
        for t in range(n):
            users.append(u), items.append((u + t) % 4 + 1), times.append(100.0 * t + u)
    split = leave_one_out(Interactions.from_triples(users, items, times, 4, TEXTS))
    train, future, future_t = future_split(split, 3)
    for u, n in enumerate((6, 8)):
        full = torch.tensor([(u + t) % 4 + 1 for t in range(n)])
        assert torch.equal(train.train[u], full[: n - 3]) and torch.equal(future[u], full[n - 3 :])
        assert torch.equal(train.history("valid")[u], full[: n - 3])
        assert future_t[u].tolist() == [100.0 * t + u for t in range(n - 3, n)]
        assert train.train_times[u].max() < future_t[u].min()  # nothing of the future is trained on
    with pytest.raises(ValueError, match="horizon"):
        future_split(split, 0)
    with pytest.raises(ValueError, match="fewer than horizon"):
        future_split(split, 5)


def test_step_hits_is_intent_hits_per_step():
    g, _ = genre_matrix(TEXTS)
    prob = torch.rand(5, 3, 3, generator=torch.Generator().manual_seed(0))
    future = torch.randint(1, 5, (5, 3), generator=torch.Generator().manual_seed(1))
    hits = step_hits(prob, g, future)
    for k in range(3):
        ref = sum(float(g[future[u, k], prob[u, k].argmax()]) for u in range(5)) / 5
        assert hits[k].item() == pytest.approx(ref)
        assert hits[k].item() == pytest.approx(intent_hits(prob[:, k], g, future[:, k]).mean().item())


ARMS = ("prior", "user_top", "single", "sync", "three", "seq2seq")


def row(**hit):
    """A cell's row: ``hit[arm]`` the step-1 hit@1 and, unless ``arm_mean`` is given, the 3-step mean."""
    out = {"users": 943.0, "horizon": 3.0}
    for a in ARMS:
        h, m = hit[a], hit.get(a + "_mean", hit[a])
        out.update({f"{a}.hit@1": h, f"{a}.hit@1.mean": m, f"{a}.bce.step1": 0.27, f"{a}.cpu_seconds": 5.0})
        out.update({f"{a}.hit@1.step{k}": m for k in (1, 2, 3)})
    return out


def judge(claim, rows):
    runs = claim.runs_by_seed()
    return claim.judge({s: {n: rows[i] for n in runs[s]} for i, s in enumerate(runs)})


BASE = dict(prior=0.41, user_top=0.44, single=0.46, sync=0.46, three=0.46, seq2seq=0.46)


def seeds(jitter=(0.0, 0.001, 0.002), **change):
    return [row(**{**BASE, **{k: v + j for k, v in change.items()}}) for j in jitter]


def test_the_claims_are_discovered_judged_once_and_run_the_registered_cell():
    assert set(TS) == {
        "timesync_synchronized_streams_v2",
        "timesync_three_streams",
        "timesync_encoder_decoder",
    }
    for name, c in TS.items():
        assert CLAIMS[name] is c and c.threshold == 0.01 and c.null == 0.0
        assert {r.experiment for r in c.runs} == {"recsys.timesync_v2"} and len(c.runs) == 3
    assert callable(get_experiment("recsys.timesync_v2"))
    assert STATUS[TS["timesync_encoder_decoder"].title].status == "partial"


@pytest.mark.parametrize(
    "name,arm",
    [("timesync_synchronized_streams_v2", "sync"), ("timesync_three_streams", "three")],
)
def test_one_step_claim_criteria(name, arm):
    c = TS[name]
    assert judge(c, seeds(**{arm: 0.46})).status == "failed"  # tie with the single stream
    assert judge(c, seeds(**{arm: 0.48})).status == "passed"
    # the other arm's gain does not count
    other = "three" if arm == "sync" else "sync"
    assert judge(c, seeds(**{other: 0.48})).status == "failed"
    # round 4's collapse: every model at the prior -> the control misses -> inconclusive
    prior = seeds(single=0.41, **{arm: 0.43})
    assert judge(c, prior).status == "inconclusive"
    # single stream not beating the user's own top genre -> inconclusive, whatever the gain
    assert judge(c, seeds(single=0.435, **{arm: 0.47})).status == "inconclusive"
    # the user's top genre does better than the arm: never a pass
    rows = [row(**{**BASE, "single": 0.46, "user_top": 0.455, arm: 0.475 + j}) for j in (0, 0.001, 0.002)]
    rows = [{**r, "user_top.hit@1": 0.49} for r in rows]
    assert judge(c, rows).status != "passed"
    # a wide interval is inconclusive
    wide = seeds(jitter=(0.0, 0.04, -0.03), **{arm: 0.475})
    assert judge(c, wide).status == "inconclusive"


def test_encoder_decoder_claim_criterion():
    c = TS["timesync_encoder_decoder"]
    assert judge(c, seeds(seq2seq=0.46)).status == "failed"
    assert judge(c, seeds(seq2seq=0.48)).status == "passed"
    # the step-1 figure alone does not count: the 3-step mean is the metric
    one_step = seeds(seq2seq=0.48)
    for r in one_step:
        r["seq2seq.hit@1.mean"] = 0.46
    assert judge(c, one_step).status == "failed"
    # the decoder must beat the same three-stream encoder without it
    no_decoder = seeds(seq2seq=0.48, three=0.49)
    for r in no_decoder:
        r["three.hit@1.mean"] = r["three.hit@1"]
    assert judge(c, no_decoder).status != "passed"
    assert judge(c, seeds(single=0.41, seq2seq=0.43)).status == "inconclusive"
