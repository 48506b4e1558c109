"""Experiment cells: keys, registration errors, and a claim judged from cells run by the runner."""

import pytest

from seqlab.experiments.cell import (
    ExperimentCell,
    claim_cells,
    experiment,
    get_experiment,
    run_claim_cells,
    run_experiment_cell,
)
from seqlab.experiments.claim import Baseline, Claim, Control
from seqlab.experiments.store import ResultStore


@experiment("experiments.test_noisy_gain")
def _noisy_gain(params, seed):
    import torch

    g = torch.Generator().manual_seed(seed)
    return {"gain": params["effect"] + 0.01 * float(torch.randn((), generator=g)), "ctl": 1.0}


def test_key_depends_on_name_params_and_seed():
    a = ExperimentCell("experiments.test_noisy_gain", {"effect": 1.0}, 0)
    assert a.key() == ExperimentCell("experiments.test_noisy_gain", {"effect": 1.0}, 0).key()
    assert a.key() != ExperimentCell("experiments.test_noisy_gain", {"effect": 1.0}, 1).key()
    assert a.key() != ExperimentCell("experiments.test_noisy_gain", {"effect": 2.0}, 0).key()
    assert a.kind == "experiments"


@pytest.mark.parametrize("name", ["noDot", "Upper.case", ".x", "a."])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError, match="package.what"):
        ExperimentCell(name, {}, 0)


def test_unknown_experiment_names_the_registered_ones():
    with pytest.raises(KeyError, match="test_noisy_gain"):
        get_experiment("experiments.nope")


def test_result_carries_seconds_and_non_dict_is_refused():
    out = run_experiment_cell(ExperimentCell("experiments.test_noisy_gain", {"effect": 0.5}, 3))
    assert {"gain", "wall_time", "cpu_time"} <= set(out)

    @experiment("experiments.test_returns_list")
    def bad(params, seed):
        return [1]

    with pytest.raises(TypeError, match="expected a dict"):
        run_experiment_cell(ExperimentCell("experiments.test_returns_list", {}, 0))


def _claim(effect):
    return Claim(
        name="test_cell_claim",
        title="t",
        statement="s",
        effect="e",
        metric="gain",
        direction="higher",
        threshold=0.5,
        null=0.0,
        make_runs=lambda seed: {
            "arm": ExperimentCell("experiments.test_noisy_gain", {"effect": effect}, seed)
        },
        measure=lambda r: r["arm"]["gain"],
        control=Control("control", 0.9, lambda r: r["arm"]["ctl"]),
        baselines=(Baseline("zero", value=0.0),),
        seeds=(0, 1, 2),
        seconds=1.0,
    )


@pytest.mark.parametrize("effect, status", [(1.0, "passed"), (0.0, "failed")])
def test_claim_over_cells_runs_and_judges(tmp_path, effect, status):
    c = _claim(effect)
    assert len(claim_cells(c)) == 3
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert c.evaluate(store).status == "not run"
        out = run_claim_cells(c, store, workers=1, log=lambda s: None)
        assert len(out.done) == 3 and not out.failed
        assert store.keys("experiments") == set(c.keys())
        assert c.evaluate(store).status == status
        again = run_claim_cells(c, store, workers=1, log=lambda s: None)  # resumable: nothing re-run
        assert not again.done and len(again.skipped) == 3
