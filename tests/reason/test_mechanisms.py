"""Each reasoner's mechanism against a direct computation: thoughts, curricula, Jacobi, CoT2 sampling."""

import pytest
import torch

from seqlab.reason import (
    Coconut,
    CoT2,
    DiscreteCoT,
    NoCoT,
    PCCoT,
    Superposition,
    check_lm,
    evaluate,
    fit,
    frontier_mass,
    frontier_scores,
    projections,
    reasoning_model,
)
from seqlab.reason.train import stage_at
from seqlab.registry import create, names
from seqlab.tasks.reasoning_base import BOT


def model_for(task, seed=0, d=32):
    torch.manual_seed(seed)
    return reasoning_model(task.vocab_size, d_model=d, n_layers=2, n_heads=2).eval()


@pytest.fixture(scope="module")
def prosqa():
    task = create("task", "prosqa", depth=3)
    return task, task.sample(4, seed=0)


def q_bot(batch):
    q = batch["question"]
    return torch.cat([q, torch.full((q.shape[0], 1), BOT)], 1)


def test_registered_reasoners():
    assert {"coconut", "superposition", "cot2", "pccot", "cot", "no_cot"} <= set(names("reasoner"))


def test_a_thought_is_the_previous_last_hidden_state(prosqa):
    task, b = prosqa
    m = model_for(task)
    r = Coconut(m, cot_steps=3)
    with torch.no_grad():
        prefix = r.prefix(b)
        _, th = r.thoughts(prefix, 3)
        # thought 1 through the token path: the model's final-norm features at BOT
        assert torch.allclose(th[:, 0], m.features(q_bot(b))[:, -1], atol=1e-5)
        for i in range(1, 3):
            seq = torch.cat([prefix, th[:, :i]], 1)
            last = m.forward_embeds(seq).hidden_states[-1][:, -1]
            assert torch.allclose(th[:, i], last, atol=1e-5)
        # reading a thought: the model's own head on it = the next-token distribution at BOT
        probs = r.read_thought(th[0, 0])
        assert torch.allclose(probs, torch.softmax(m(q_bot(b))[0, -1], -1), atol=1e-5)
    mass = frontier_mass(probs, {"a": [5, 6], "none": []})
    assert mass["a"] == pytest.approx(float(probs[5] + probs[6])) and mass["none"] == 0.0


class CountingLM(torch.nn.Module):
    """Wraps a model and counts forward_embeds calls."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.calls = inner, 0
        self.d_model, self.vocab_size, self.head = inner.d_model, inner.vocab_size, inner.head

    def input_embeddings(self, ids):
        return self.inner.input_embeddings(ids)

    def forward_embeds(self, e, mask=None):
        self.calls += 1
        return self.inner.forward_embeds(e, mask)


@pytest.mark.parametrize("stage, c", [(0, 1), (2, 1), (3, 2)])
def test_curriculum_stage_k_uses_c_times_k_thoughts_and_the_remaining_steps(prosqa, stage, c):
    task, b = prosqa
    lm = CountingLM(model_for(task))
    r = Coconut(lm, cot_steps=3, thoughts_per_step=c)
    loss = r.loss(b, stage=stage)
    assert lm.calls == c * stage + 1  # one pass per thought, one for the language suffix
    # the same loss written out: thoughts, then EOT + remaining steps -> remaining steps + answer
    with torch.no_grad():
        head, _ = r.thoughts(r.prefix(b), c * stage)
        sin, sout = r.language_suffix(b, stage)
        assert sin.shape[1] == 3 - stage + 1 and torch.equal(sout[:, -1], b["answer"])
        logits = lm.inner.forward_embeds(torch.cat([head, lm.inner.input_embeddings(sin)], 1)).logits
        want = torch.nn.functional.cross_entropy(
            logits[:, -sin.shape[1] :].reshape(-1, task.vocab_size), sout.reshape(-1)
        )
    assert float(loss.detach()) == pytest.approx(float(want), rel=1e-5)


def test_curriculum_errors(prosqa):
    task, b = prosqa
    m = model_for(task)
    with pytest.raises(ValueError, match="more stages"):
        Coconut(m, cot_steps=3, n_stages=4)
    r = Coconut(m, cot_steps=3)
    with pytest.raises(ValueError, match="stage must be"):
        r.loss(b, stage=5)
    with pytest.raises(ValueError, match="3 CoT steps"):
        r.loss(create("task", "prosqa", depth=2).sample(2, seed=0))
    assert [stage_at(s, 3, 10) for s in (0, 9, 10, 35, 99)] == [0, 0, 1, 3, 3]
    with pytest.raises(ValueError, match="stage_steps"):
        stage_at(0, 3, None)
    with pytest.raises(ValueError, match="no steps for the last stage"):
        fit(r, task, steps=20, stage_steps=10)


def test_models_without_forward_embeds_are_refused():
    with pytest.raises(ValueError, match="forward_embeds"):
        check_lm(torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="forward_embeds"):
        Coconut(torch.nn.Linear(3, 3), cot_steps=2)


def test_jacobi_with_T_equal_to_the_number_of_thoughts_is_the_sequential_result(prosqa):
    task, b = prosqa
    m = model_for(task)
    seq = Coconut(m, cot_steps=3)
    par = PCCoT(m, n_thoughts=3, iterations=3)
    with torch.no_grad():
        prefix = seq.prefix(b)
        _, want = seq.thoughts(prefix, 3)
        hist = par.jacobi(prefix, history=True)
        assert torch.allclose(hist[-1], want, atol=1e-5)
        for j, z in enumerate(hist, start=1):  # after j iterations the first j thoughts are exact
            assert torch.allclose(z[:, :j], want[:, :j], atol=1e-5)
        assert not torch.allclose(hist[0][:, 1:], want[:, 1:], atol=1e-3)  # one iteration is not enough
    assert torch.equal(par.predict(b).answer, seq.predict(b).answer)
    assert float(PCCoT(m, 3, 3).loss(b).detach()) == pytest.approx(float(seq.loss(b).detach()), rel=1e-5)


def test_cot2_with_K_1_is_discrete_cot():
    task = create("task", "subset_sum", n_numbers=3, max_value=5)
    b = task.sample(6, seed=0)
    m = model_for(task)
    cot, cot2 = DiscreteCoT(m), CoT2(m)
    for seed in (0, 1):
        d = cot.predict(b, n_steps=3, sample=True, generator=torch.Generator().manual_seed(seed))
        c = cot2.predict(b, K=1, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(d.steps, c.steps) and torch.equal(d.answer, c.answer)
    d, c = cot.predict(b, n_steps=3), cot2.predict(b, K=1, greedy=True)
    assert torch.equal(d.steps, c.steps) and torch.equal(d.answer, c.answer)
    # one-hot supervision (no trace_dist) is discrete CoT's loss
    one = {k: v for k, v in b.items() if k != "trace_dist"}
    assert float(cot2.loss(one).detach()) == pytest.approx(float(cot.loss(one).detach()), rel=1e-5)


def test_cot2_continuous_token_is_the_mixture_of_embeddings():
    task = create("task", "subset_sum", n_numbers=3, max_value=5)
    b = task.sample(3, seed=1)
    r = CoT2(model_for(task))
    E = r.model.embed.weight
    out = r.rollout(b)
    assert torch.allclose(out["z"], out["dist"] @ E, atol=1e-5)
    k = r.rollout(b, K=4, generator=torch.Generator().manual_seed(0))
    assert k["tokens"].shape == (3, 3, 4)
    assert torch.allclose(k["z"], E[k["tokens"]].mean(2), atol=1e-6)
    with pytest.raises(ValueError, match="K must be"):
        r.rollout(b, K=0)
    # multi-trace supervision: soft targets put mass on every partial sum of the search tree
    assert int((b["trace_dist"][0, -1] > 0).sum()) > 1


def test_superposition_projection_finds_the_frontier():
    torch.manual_seed(0)
    emb = torch.linalg.qr(torch.randn(16, 16))[0][:6] * 3.0  # orthogonal node embeddings
    frontier = [0, 2, 3]
    p = projections(emb[frontier].sum(0), emb)
    assert (p[frontier] > 0.5).all() and p[[1, 4, 5]].abs().max() < 1e-5
    with pytest.raises(ValueError, match="projections expects"):
        projections(torch.zeros(3), emb)


def test_superposition_scores_run_on_reachability():
    task = create("task", "reachability", n_nodes=8, n_edges=10, depth=2)
    b = task.sample(4, seed=0)
    r = Superposition(model_for(task), depth=2)
    scores = frontier_scores(r, task, b)
    assert len(scores) == 2 and all(set(s) == {"frontier", "other", "rows"} for s in scores)
    assert all(-1 <= s["frontier"] <= 1 and s["rows"] > 0 for s in scores)


def test_fit_trains_and_evaluate_reports_cost():
    task = create("task", "arithmetic", n_ops=1, modulus=3)
    r = NoCoT(model_for(task, d=32))
    before = evaluate(r, task, n=64)
    out = fit(r, task, steps=80, batch_size=32, lr=3e-3)
    after = evaluate(r, task, n=64)
    assert out["loss"] < 0.7 and after["accuracy"] > max(before["accuracy"], 0.6)
    assert after["tokens"] == 1.0 and after["thoughts"] == 0.0 and after["seconds_per_answer"] > 0
    with pytest.raises(ValueError, match="steps must be"):
        fit(r, task, steps=0)
