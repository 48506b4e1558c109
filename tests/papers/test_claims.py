"""Criterion tests: every claim's check, fed synthetic rows of trivial predictors, never passes.

Each scenario maps a claim's run names to the result a trivial predictor would store (both arms at
chance, predict-zero, copy-last, uniform, random pointer, ...). Three seeds with a small jitter so
intervals are not degenerate. A sanity scenario per claim shows the criterion CAN pass.
"""

import math

import pytest

from seqlab.bench.findings import FINDINGS, RANDOMIZED_POSITIONS, SELECTIVE_COPYING, check_findings
from seqlab.bench.grid import load_suite
from seqlab.commands.papers import paper_table
from seqlab.experiments.cell import claim_cells
from seqlab.experiments.claim import Claim
from seqlab.experiments.config import RunConfig
from seqlab.papers import TITLES
from seqlab.papers.claims import CLAIMS, claim, claims_table
from seqlab.papers.continual_claims import CONTINUAL_CLAIMS  # criterion tests: test_continual_claims.py

# bench claims and findings; continual claims and other modules' claims (experiment cells) have their own
# criterion tests beside their modules
BENCH = {n: c for n, c in CLAIMS.items() if n not in CONTINUAL_CLAIMS and not claim_cells(c)}
ALL = {**BENCH, **{c.name: c for c in FINDINGS}}
LN2 = math.log(2)


def res(score, ood=None, ood_list=None, lengths=None, **ident):
    return {
        "metric": "accuracy",
        "score": score,
        "ood_score": ood,
        "ood": ood_list if ood_list is not None else ([] if ood is None else [ood]),
        "ood_lengths": lengths or [],
        "id": {"accuracy": score, **ident},
        "wall_time": 2.0,
    }


def judge(c: Claim, make, jitter=0.002):
    """Verdict of ``c`` on results ``make(run_name, seed_jitter)`` for each of its seeds."""
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(n, i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def _nmst(nmst, softmax, ppl=50.0, jitter=True):
    def make(n, j):
        j = j if jitter else 0.0
        return {
            "nmst_nonterm_mean": nmst + (j if nmst else 0.0),
            "softmax_nonterm_mean": softmax + j,
            "softmax_ppl": ppl,
            "nmst_ppl": ppl,
            "unigram_ppl": 125.0,
        }

    return make


# -- scenarios: name -> (list of trivial scenarios, one passing scenario) ----------------------------------
def _mqar(att, rnn):
    return lambda n, j: res((att if n == "attention" else rnn) + j)


def _hybrid(att, s4d, hybrid):
    return lambda n, j: res({"attention": att, "s4d": s4d, "hybrid": hybrid}[n] + j)


def _parity(score, ood):
    return lambda n, j: res(score, ood + j)


def _rpe(std, rnd, id_acc=1.0):
    return lambda n, j: res(id_acc, (rnd if n.endswith("randomized") else std) + j)


def _text(zero, foreign, noise, id_nats=2.2 * LN2):
    bpc = {"zero": zero, "foreign": foreign, "noise": noise}

    def make(n, j):
        v = (bpc[n] + j) * LN2
        return {**res(id_nats, v, [v, v, v], [128, 256, 512]), "metric": "log_loss"}

    return make


def _ns(score, opt=0.45):
    return lambda n, j: {**res(score + j, optimal_log_loss=opt), "metric": "log_loss"}


def _dyn(model_mse, fixed_ratio=0.3, zero=0.19, copy=0.22, ls=0.03):
    def make(n, j):
        mse = fixed_ratio * zero if n == "fixed" else model_mse
        out = res(mse + j, predict_zero_mse=zero, copy_last_mse=copy, least_squares_mse=ls)
        return {**out, "metric": "mse"}

    return make


def _harmonic(L):
    return sum(1 / k for k in range(1, L + 1)) / L


def _ptr(score, ood):
    lengths = [11, 12, 13, 14, 15]
    return lambda n, j: res(
        score, (ood if ood is not None else sum(map(_harmonic, lengths)) / 5) + j, lengths=lengths
    )


def _sel(mamba, s4d):
    return lambda n, j: res((mamba if n == "mamba" else s4d) + j)


SCENARIOS = {
    "rnns_not_transformers": (
        {
            "both at chance": _mqar(1 / 128, 1 / 128),
            "both solve it": _mqar(0.99, 0.97),
            "rnn ahead": _mqar(0.95, 0.99),
        },
        _mqar(0.99, 0.3),
    ),
    "hybrid_closes_gap": (
        {
            "all at chance": _hybrid(1 / 128, 1 / 128, 1 / 128),
            "hybrid no better than S4D": _hybrid(0.99, 0.3, 0.3),
            "hybrid short of attention": _hybrid(0.99, 0.1, 0.6),
            "no control": _hybrid(0.5, 0.1, 0.95),
        },
        _hybrid(0.99, 0.1, 0.98),
    ),
    "streaming_parity": (
        {
            "chance": _parity(0.5, 0.5),
            "fits, no generalization": _parity(1.0, 0.5),
            "copy-last": _parity(0.75, 0.5),
        },
        _parity(1.0, 0.99),
    ),
    "randomized_pe": (
        {"both at chance": _rpe(0.5, 0.5, id_acc=0.5), "no gain": _rpe(0.6, 0.6), "loss": _rpe(0.7, 0.55)},
        _rpe(0.55, 0.8),
    ),
    "randomized_positions": (
        {"both at chance": _rpe(0.5, 0.5, id_acc=0.5), "no gain": _rpe(0.6, 0.6)},
        _rpe(0.55, 0.8),
    ),
    "recurrent_length_generalization": (
        {
            "unigram model (no learning)": _text(4.1, 4.1, 4.1, id_nats=4.1 * LN2),
            "no intervention effect": _text(2.4, 2.4, 2.4),
            "intervention hurts": _text(2.4, 2.9, 2.8),
        },
        _text(3.5, 2.4, 2.5),
    ),
    "nonstationary_meta_learning": (
        {"uniform predictor": _ns(LN2), "halfway": _ns(0.57)},
        _ns(0.46),
    ),
    "hippo_prophecy": (
        {
            "predict-zero": _dyn(0.19),
            "copy-last": _dyn(0.22),
            "untrained (worse than both)": _dyn(0.4),
            "no control": _dyn(0.05, fixed_ratio=1.0),
        },
        _dyn(0.06),
    ),
    "pointer_networks": (
        {
            "random without repeats": _ptr(1.0, None),
            "chance": _ptr(1.0, 1 / 13),
            "untrained": _ptr(0.25, 0.9),
        },
        _ptr(1.0, 0.9),
    ),
    "nmst": (
        {
            "no better than softmax": _nmst(0.2, 0.2),
            "never emits EOS": _nmst(1.0, 1.0),
            "both always stop": _nmst(0.0, 0.0, jitter=False),
            "untrained": _nmst(0.0, 0.5, ppl=200.0),
        },
        _nmst(0.0, 0.3),
    ),
    "selective_copying": (
        {
            "both at chance": _sel(1 / 16, 1 / 16),
            "both solve it": _sel(0.99, 0.98),
            "s4d ahead": _sel(0.92, 0.99),
        },
        _sel(0.99, 0.3),
    ),
}


def test_every_claim_has_criterion_scenarios():
    assert set(SCENARIOS) == set(ALL)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trivial_baselines_never_pass(name):
    trivial, _ = SCENARIOS[name]
    for label, make in trivial.items():
        r = judge(ALL[name], make)
        assert r.status != "passed", f"{name}: trivial scenario {label!r} passed ({r.figure})"
        assert r.status in ("failed", "inconclusive")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_criterion_can_pass(name):
    _, good = SCENARIOS[name]
    r = judge(ALL[name], good)
    assert r.status == "passed", r.figure
    assert r.seeds == 3 and r.low <= r.mean <= r.high and r.seconds is None


def test_a_missed_positive_control_is_inconclusive():
    assert judge(ALL["rnns_not_transformers"], _mqar(0.5, 0.01)).status == "inconclusive"
    assert judge(ALL["hippo_prophecy"], _dyn(0.02, fixed_ratio=0.9)).status == "inconclusive"
    assert judge(ALL["selective_copying"], _sel(0.6, 0.1)).status == "inconclusive"


def test_a_too_wide_interval_is_inconclusive():
    c = ALL["rnns_not_transformers"]
    runs = c.runs_by_seed()
    gaps = {0: 0.9, 1: 0.0, 2: 0.6}  # mean 0.5 >= 0.2, but the seeds disagree
    r = c.judge({s: {n: res(0.95 if n == "attention" else 0.95 - gaps[s]) for n in runs[s]} for s in runs})
    assert r.mean >= c.threshold and r.low < 0 and r.status == "inconclusive"


def test_clearly_below_threshold_fails():
    r = judge(ALL["streaming_parity"], _parity(1.0, 0.6), jitter=0.01)
    assert r.status == "failed" and r.high < 0.95


def test_claims_declare_the_protocol():
    for c in ALL.values():
        assert len(set(c.seeds)) >= 3 and c.control.target is not None and c.seconds > 0
        assert c.effect and c.metric and c.criterion and c.runs
        assert any(b.kind == "beat" for b in c.baselines)
    for c in CLAIMS.values():
        assert c.title in TITLES, c.title


def test_status_is_computed_from_the_store(tmp_path):
    from seqlab.bench.store import ResultStore

    c = claim("streaming_parity")
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert c.status(store)[0] == "not run"
        runs = c.runs_by_seed()
        store.put(runs[0]["lstm"], res(1.0, 0.99))
        store.put(runs[1]["lstm"], res(1.0, 0.995))
        assert c.status(store) == ("not run", "2/3 runs stored")
        store.put(runs[2]["lstm"], res(1.0, 0.985))
        r = c.evaluate(store)
        assert r.status == "passed" and r.seconds == pytest.approx(6.0)
        head, body = claims_table(store)
        row = next(b for b in body if b[0] == "streaming_parity")
        assert row[3] == "passed" and row[4].startswith("0.990") and row[5] == "3"


def test_default_suite_holds_exactly_the_findings_runs():
    suite = {r.key() for r in load_suite("default").runs}
    assert suite == {k for c in FINDINGS for k in c.keys()}
    assert RANDOMIZED_POSITIONS.runs[1].random_positions_at_eval
    assert SELECTIVE_COPYING.runs[0].mixer_cfg == {"mode": "loop"}


def test_findings_table_from_rows():
    c = ALL["selective_copying"]
    rows = []
    for seed, runs in c.runs_by_seed().items():
        for n, cfg in runs.items():
            rows.append({"key": cfg.key(), "result": res(0.99 if n == "mamba" else 0.2 + 0.01 * seed)})
    table = {t: (s, e) for t, s, e in check_findings(rows)}
    status, evidence = next(v for t, v in table.items() if "selective_copying" in t)
    assert status == "passed" and "control" in evidence
    assert sum(s == "not run" for s, _ in table.values()) == 3


def test_papers_table_lists_all_catalog_papers(tmp_path):
    from seqlab.bench.store import ResultStore

    with ResultStore(tmp_path / "s.sqlite") as store:
        head, body = paper_table(store)
    assert len(body) == 119 and head[0] == "#"
    by_title = {b[1]: b for b in body}
    claims = ["pointer_networks", "pointer_convex_hull", "pointer_tsp"]
    assert by_title["Pointer Networks"][4].split("\n") == claims
    assert set(by_title["Pointer Networks"][5].split("\n")) == {"not run"}


def test_random_positions_at_eval_needs_randomized_positions():
    from seqlab.experiments.config import ConfigError

    with pytest.raises(ConfigError, match="random_positions_at_eval"):
        RunConfig(task="even_pairs", mixer="attention", random_positions_at_eval=True)
    with pytest.raises(ConfigError, match="true or false"):
        RunConfig(task="even_pairs", mixer="attention", randomized_positions=64, random_positions_at_eval=1)


def test_full_suite_holds_every_chomsky_task_in_both_arms_and_the_table_reads_them(tmp_path):
    from seqlab.bench.store import ResultStore
    from seqlab.papers.claims import CHOMSKY_TASKS, rpe_arms, rpe_table

    full = {r.key() for r in load_suite("full").runs}
    assert len(CHOMSKY_TASKS) == 15
    wanted = {cfg.key() for t in CHOMSKY_TASKS for s in (0, 1, 2) for cfg in rpe_arms(t, s).values()}
    assert wanted <= full
    with ResultStore(tmp_path / "s.sqlite") as store:
        for s, (std, rnd) in enumerate(((0.5, 0.8), (0.55, 0.75), (0.6, 0.7))):
            arms = rpe_arms("reverse_string", s)
            store.put(arms["reverse_string/standard"], res(1.0, std))
            store.put(arms["reverse_string/randomized"], res(1.0, rnd))
        head, body = rpe_table(store)
    row = next(b for b in body if b[0] == "reverse_string")
    assert row[1] == "3" and row[2].startswith("55.0") and row[3].startswith("75.0") and row[4] == "+20.0"
    assert body[-1][0] == "average" and "+12.0" in body[-1][5]
