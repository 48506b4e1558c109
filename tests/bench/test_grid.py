import textwrap

import pytest

from seqlab.bench.grid import load_grid, load_suite, suite_names
from seqlab.experiments.config import ConfigError, apply_overrides

GOOD = """\
name: toy
defaults:
  steps: 30
  eval_every: 10
experiments:
  - task: _toy_parity
    task_params: {}
    difficulty:
      max_train: [4, 6]
    mixers: [_toy_cummean]
    widths: [8, 16]
    lrs: [1e-3, 3.0e-3]
    seeds: [0]
    state_init: [zero, noise]
"""


def _write(tmp_path, text, name="grid.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_grid_expands_product(tmp_path, toy_components):
    grid = load_grid(_write(tmp_path, GOOD))
    assert grid.name == "toy" and len(grid.runs) == 2 * 2 * 2 * 2
    assert {r.lr for r in grid.runs} == {1e-3, 3e-3}
    assert {r.task_params["max_train"] for r in grid.runs} == {4, 6}
    assert all(r.steps == 30 for r in grid.runs)
    assert len({r.key() for r in grid.runs}) == len(grid.runs)


@pytest.mark.parametrize(
    "old,new,pattern",
    [
        ("    widths: [8, 16]", "    widths: 8", r"grid\.yaml:11: field 'widths' must be a non-empty list"),
        ("    seeds: [0]", "    sedes: [0]", r"grid\.yaml:13: unknown field 'experiments\[0\]\.sedes'"),
        ("  steps: 30", "  stepz: 30", r"grid\.yaml:3: unknown field 'defaults\.stepz'"),
        (
            "    mixers: [_toy_cummean]",
            "    mixers: [nope]",
            r"grid\.yaml:10: .*unknown mixer 'nope'; valid names: .*_toy_cummean",
        ),
        (
            "  - task: _toy_parity",
            "  - task: nope",
            r"grid\.yaml:6: .*unknown task 'nope'; valid names: .*_toy_parity",
        ),
        ("      max_train: [4, 6]", "      max_train: [1, 6]", r"grid\.yaml:9: .*max_train must be >= 2"),
        ("    lrs: [1e-3, 3.0e-3]", "    lrs: [fast]", r"grid\.yaml:12: field 'lrs' expects numbers"),
        ("  eval_every: 10", "  eval_every: 0", r"grid\.yaml:4: .*'eval_every': expected a positive int"),
    ],
)
def test_grid_errors_name_field_and_line(tmp_path, toy_components, old, new, pattern):
    assert old in GOOD
    with pytest.raises(ConfigError, match=pattern):
        load_grid(_write(tmp_path, GOOD.replace(old, new)))


def test_malformed_yaml_has_line(tmp_path):
    with pytest.raises(ConfigError, match=r"grid\.yaml:4: malformed YAML(.|\n)*line 3"):
        load_grid(_write(tmp_path, "name: x\nexperiments:\n  - task: [unclosed\n"))


def test_toml_grid(tmp_path, toy_components):
    text = """
    name = "t"
    [[experiments]]
    task = "_toy_parity"
    mixers = ["_toy_cummean"]
    widths = [8]
    bogus = 1
    """
    with pytest.raises(ConfigError, match=r"grid\.toml:7: unknown field 'experiments\[0\]\.bogus'"):
        load_grid(_write(tmp_path, text, "grid.toml"))
    grid = load_grid(_write(tmp_path, text.replace("bogus = 1", ""), "grid.toml"))
    assert len(grid.runs) == 1 and grid.runs[0].d_model == 8


def test_overrides(tmp_path, toy_components):
    grid = load_grid(_write(tmp_path, GOOD), ["defaults.steps=7", "defaults.lr=0.5"])
    assert {r.steps for r in grid.runs} == {7}
    assert apply_overrides({"a": {}}, ["a.b.c=[1, 2]"]) == {"a": {"b": {"c": [1, 2]}}}
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides({}, ["nonsense"])


def test_suites_exist():
    assert {"default", "full"} <= set(suite_names())
    with pytest.raises(ValueError, match="valid suites"):
        load_suite("nope")


MODEL_GRID = """\
name: models
defaults: {steps: 10}
experiments:
  - task: mqar
    task_params: {vocab_size: 64, seq_len: 32, n_pairs: 4}
    mixers: [attention, lstm]
    widths: [64]
    pos_enc: [none]
    mixer_cfg:
      attention: {n_heads: 4}
"""


@pytest.mark.parametrize(
    "old,new,pattern",
    [
        (
            "{n_heads: 4}",
            "{n_heads: 3}",
            r"grid\.yaml:10: .*'attention'.*n_heads a positive divisor of d_model=64",
        ),
        ("{n_heads: 4}", "{bogus: 1}", r"grid\.yaml:10: .*unexpected keyword argument 'bogus'"),
        ("pos_enc: [none]", "pos_enc: [none, nope]", r"grid\.yaml:8: .*unknown positional 'nope'"),
    ],
)
def test_grid_errors_only_the_model_sees_fail_up_front(tmp_path, old, new, pattern):
    good = load_grid(_write(tmp_path, MODEL_GRID))
    assert len(good.runs) == 2
    with pytest.raises(ConfigError, match=pattern):
        load_grid(_write(tmp_path, MODEL_GRID.replace(old, new)))


def test_a_config_built_on_suite_defaults_shares_the_suite_row():
    from seqlab.bench.grid import suite_defaults
    from seqlab.experiments.config import RunConfig

    for run in load_suite("default", check=False).runs[:3]:
        own = {"task": run.task, "mixer": run.mixer, "task_params": dict(run.task_params)}
        own |= {"mixer_cfg": dict(run.mixer_cfg), "d_model": run.d_model, "seed": run.seed, "lr": run.lr}
        own |= {"steps": run.steps, "target": run.target, "state_init": run.state_init}
        own |= {"batch_size": run.batch_size, "warmup": run.warmup, "eval_every": run.eval_every}
        rebuilt = RunConfig(**{**suite_defaults("default"), **own})
        assert rebuilt.key() == run.key()
        assert rebuilt.replace(eval_n=rebuilt.eval_n + 1).key() != run.key()
