"""Each strategy's defining mechanism, on tiny data."""

import pytest
import torch
import torch.nn.functional as F

from seqlab.continual import make_strategy, run
from seqlab.continual.backbones import MLP, simplex_vertices
from seqlab.continual.ewc import fisher_diagonal, fisher_diagonal_loop, quadratic_penalty
from seqlab.continual.fly_cl import sparse_projection, winner_take_all
from seqlab.continual.if2net import rls_update
from seqlab.continual.online_transformer import InContextClassifier
from seqlab.continual.prd import supcon
from seqlab.continual.recall_merge import linear_cka
from seqlab.papers import TITLES
from seqlab.registry import entries


def test_every_strategy_is_registered_with_papers_and_scenarios():
    es = entries("strategy")
    assert len(es) >= 21
    for e in es:
        assert e.implements and e.used_by and all(t in TITLES for t in e.used_by), e.name
        assert set(e.info["scenarios"]) <= {"task", "domain", "class"}
        refused = set(getattr(e.obj, "unsupported", {}))
        assert refused == {"task", "domain", "class"} - set(e.info["scenarios"]), e.name


def test_unsupported_combination_is_refused_with_reason(digits_streams, tiny_cfg):
    with pytest.raises(ValueError, match="shared head"):
        run(make_strategy("recall"), digits_streams["domain"], tiny_cfg)
    with pytest.raises(ValueError, match="unknown options"):
        make_strategy("ewc", lamda=3)


def test_fisher_matches_per_example_loop_and_ewc_penalty_zero_at_anchor():
    torch.manual_seed(0)
    model = MLP(5, 4, hidden=7)
    x = torch.randn(9, 5)
    active = torch.ones(9, 4, dtype=torch.bool)
    active[:, 3] = False
    fast = fisher_diagonal(model, x, active, chunk=4)
    ref = fisher_diagonal_loop(model, x, active)
    for n in ref:
        assert torch.allclose(fast[n], ref[n], atol=1e-6), n
    anchor = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert float(quadratic_penalty(model, [anchor], [fast])) == 0.0
    with torch.no_grad():
        model.body[0].weight.add_(0.1)
    assert float(quadratic_penalty(model, [anchor], [fast])) > 0.0


def test_online_ewc_keeps_one_decayed_fisher(digits_streams, tiny_cfg):
    s = make_strategy("online_ewc", gamma=0.5, lam=1.0, fisher_n=20)
    run(s, digits_streams["class"], tiny_cfg, stop_after=2, compat=False)
    assert len(s.fishers) == 1 and len(s.anchors) == 1
    e = make_strategy("ewc", lam=1.0, fisher_n=20)
    run(e, digits_streams["class"], tiny_cfg, stop_after=2, compat=False)
    assert len(e.fishers) == 2


def test_published_strengths_differ_by_scenario(digits_streams, tiny_cfg):
    lams = {}
    for sc in ("task", "domain", "class"):
        s = make_strategy("ewc")
        s.setup(digits_streams[sc], tiny_cfg)
        lams[sc] = s.lam
    assert lams == {"task": 1e7, "domain": 1e6, "class": 1e8}


def test_si_importance_is_finite_and_penalty_vanishes_at_anchor(digits_streams, tiny_cfg):
    s = make_strategy("si", c=1.0)
    model_holder = {}
    orig = s.after_experience

    def spy(model, exp):
        orig(model, exp)
        model_holder["m"] = model

    s.after_experience = spy
    run(s, digits_streams["task"], tiny_cfg, stop_after=1, compat=False)
    assert all(torch.isfinite(v).all() for v in s.Omega.values())
    assert sum(float(v.abs().sum()) for v in s.Omega.values()) > 0
    assert float(s.extra_loss(model_holder["m"], None, None)) == 0.0


def test_replay_buffer_stays_class_balanced_and_within_budget(digits_streams, tiny_cfg):
    s = make_strategy("replay", budget=30)
    run(s, digits_streams["class"], tiny_cfg, stop_after=3, compat=False)
    assert s.buffer.class_counts() == {c: 5 for c in range(6)} and len(s.buffer) <= 30
    r = make_strategy("replay_reservoir", budget=30)
    run(r, digits_streams["class"], tiny_cfg, stop_after=3, compat=False)
    assert len(r.buffer) == 30


def test_fixed_simplex_classifier_never_changes(digits_streams, tiny_cfg):
    v = simplex_vertices(5)
    cos = v @ v.T
    assert torch.allclose(cos.diagonal(), torch.ones(5), atol=1e-6)
    assert torch.allclose(cos[~torch.eye(5, dtype=torch.bool)], torch.full((20,), -0.25), atol=1e-6)
    for name in ("simplex", "cl2r"):
        s = make_strategy(name)
        seen = []
        orig = s.after_experience

        def spy(model, exp, orig=orig, seen=seen):
            orig(model, exp)
            seen.append((model.head.weight.clone(), [p for p in model.parameters()]))

        s.after_experience = spy
        run(s, digits_streams["class"], tiny_cfg, stop_after=2, compat=False)
        for weight, trainable in seen:
            assert torch.equal(weight, simplex_vertices(10))
            assert not any(p is weight for p in trainable)


def test_if2net_updates_are_orthogonal_to_old_inputs():
    g = torch.Generator().manual_seed(0)
    m = 60
    H_old = torch.randn(20, m, generator=g, dtype=torch.float64)
    H_new = torch.randn(15, m, generator=g, dtype=torch.float64)
    W = torch.zeros(m, 3, dtype=torch.float64)
    P = torch.eye(m, dtype=torch.float64) / 1e-6
    W, P = rls_update(W, P, H_old, torch.randn(20, 3, generator=g, dtype=torch.float64))
    W2, _ = rls_update(W, P, H_new, torch.randn(15, 3, generator=g, dtype=torch.float64))
    dW = W2 - W
    assert (H_old @ dW).norm() < 1e-4 * (H_new @ dW).norm()


def test_fly_projection_and_winner_take_all():
    g = torch.Generator().manual_seed(0)
    W = sparse_projection(10, 50, 3, g)
    assert torch.equal(W.sum(1), torch.full((50,), 3.0))
    z = winner_take_all(torch.randn(4, 50, generator=g), 5)
    assert ((z != 0).sum(1) == 5).all()
    with pytest.raises(ValueError):
        winner_take_all(z, 0)


def test_nmc_predicts_the_nearest_class_mean(digits_streams, tiny_cfg):
    s = make_strategy("nmc")
    res = run(s, digits_streams["class"], tiny_cfg, compat=False)
    model = s.build_model()
    exp = digits_streams["class"].experiences[0]
    f = model.features(exp.x_test)
    means = torch.stack(
        [
            model.features(e.x_train[e.y_train == c]).mean(0)
            for e in digits_streams["class"].experiences
            for c in e.units
        ]
    )
    manual = torch.cdist(f, means).argmin(1)
    assert torch.equal(s.predict(model, exp.x_test, None).argmax(1), manual)
    assert res.R[-1][0] > 0.5


def test_recall_loss_is_zero_when_the_model_equals_its_recall(digits_streams, tiny_cfg):
    s = make_strategy("recall")
    holder = {}
    orig = s.before_experience

    def spy(model, exp):
        orig(model, exp)
        holder["m"] = model

    s.before_experience = spy
    run(s, digits_streams["class"], tiny_cfg, stop_after=2, compat=False)
    s.before_experience(holder["m"], digits_streams["class"].experiences[2])
    x = digits_streams["class"].experiences[2].x_train[:8]
    assert float(s.extra_loss(holder["m"], {"inputs": x}, holder["m"](x))) == pytest.approx(0.0, abs=1e-10)


def test_cka_and_merge_weights():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(50, 6, generator=g)
    assert linear_cka(a, a) == pytest.approx(1.0)
    assert linear_cka(a, 3 * a + 1) == pytest.approx(1.0)
    assert linear_cka(a, torch.randn(50, 6, generator=g)) < 0.5


def test_recall_merge_betas_follow_similarity(digits_streams, tiny_cfg):
    s = make_strategy("recall_merge")
    run(s, digits_streams["class"], tiny_cfg, stop_after=2, compat=False)
    assert len(s.betas) == 3 and all(0.0 <= b <= 0.5 + 1e-9 for b in s.betas)


def test_sema_expands_on_shift_but_not_on_the_same_distribution(digits_streams, tiny_cfg):
    s = make_strategy("sema")
    stream = digits_streams["class"]
    s.setup(stream, tiny_cfg)
    model = s.build_model()
    s.before_experience(model, stream.experiences[0])
    assert len(model.adapters) == 1
    s.before_experience(model, stream.experiences[0])  # same data: reuse
    assert len(model.adapters) == 1
    shifted = stream.experiences[1]
    shifted.x_train = 1.0 - shifted.x_train  # inverted images: a clear representation shift
    try:
        s.before_experience(model, shifted)
    finally:
        shifted.x_train = 1.0 - shifted.x_train
    assert len(model.adapters) == 2 and not model.adapters[0][0].weight.requires_grad


def test_online_transformer_queries_attend_only_to_context_and_themselves():
    torch.manual_seed(0)
    m = InContextClassifier(5, 3, d_model=16, n_layers=1, n_heads=2).eval()
    xc, yc = torch.randn(4, 5), torch.tensor([0, 1, 2, 0])
    xq = torch.randn(3, 5)
    out = m.classify(xq, xc, yc)
    xq2 = xq.clone()
    xq2[2] += 5.0
    out2 = m.classify(xq2, xc, yc)
    assert torch.allclose(out[:2], out2[:2], atol=1e-5) and not torch.allclose(out[2], out2[2])
    out3 = m.classify(xq, xc, torch.tensor([2, 2, 2, 2]))
    assert not torch.allclose(out, out3)  # the context labels matter


def test_supcon_prefers_clustered_classes():
    y = torch.tensor([0, 0, 1, 1])
    good = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]]), dim=1)
    bad = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.1, 1.0]]), dim=1)
    assert supcon(good, y) < supcon(bad, y)


@pytest.mark.parametrize("scenario", ["task", "domain", "class"])
def test_every_strategy_runs_on_a_tiny_stream(digits_streams, tiny_cfg, scenario):
    from seqlab.registry import get, names

    for name in names("strategy"):
        if scenario not in get("strategy", name).info["scenarios"]:
            continue
        res = run(make_strategy(name), digits_streams[scenario], tiny_cfg, compat=False)
        assert len(res.R) == 5 and 0.0 <= res.summary["avg_acc"] <= 1.0, name


def test_sequence_stream_trains_a_sequence_model_and_refuses_vector_only_strategies(tiny_cfg):
    from seqlab.continual.backbones import SequenceClassifier
    from seqlab.continual.scenarios import sequence_stream

    stream = sequence_stream(("parity_check", "cycle_navigation"), "class", n_train=40, n_test=20, length=6)
    assert stream.n_outputs == 10 and stream.experiences[1].units == (5, 6, 7, 8, 9)
    assert stream.experiences[0].x_train.dtype == torch.long
    s = make_strategy("ewc", lam=10.0, fisher_n=8)
    res = run(s, stream, tiny_cfg, compat=False)
    assert len(res.R) == 2 and len(s.fishers) == 2
    assert isinstance(s.build_model(), SequenceClassifier)
    with pytest.raises(ValueError, match="token sequences"):
        run(make_strategy("nmc"), stream, tiny_cfg)
