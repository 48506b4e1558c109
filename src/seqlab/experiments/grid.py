"""Experiment grids: a small YAML/TOML file expanded into :class:`~seqlab.experiments.config.RunConfig` s.

::

    name: demo
    defaults: {steps: 600, batch_size: 64}      # any RunConfig field, for every run
    experiments:
      - task: mqar
        task_params: {vocab_size: 128, seq_len: 64}
        difficulty: {n_pairs: [4, 16]}          # task parameters swept (the x of difficulty plots)
        mixers: [attention, mamba]
        widths: [32, 64]                        # d_model
        lrs: [1.0e-3]
        seeds: [0]
        mixer_cfg: {mamba: {mode: loop}}       # keyword arguments per mixer
        randomized_positions: [null, 256]       # optional sweep
        state_init: [zero, noise]               # optional sweep

Each experiment is the product mixers x widths x difficulty x lrs x seeds (x the optional sweeps).
Errors name the file, the bad field and its line; unknown task or mixer names list the valid ones.
The caller passes ``check_task(cfg)`` and ``check_model(cfg)`` (bench: build the task; build the
model once per distinct model config, tiny, on CPU), so parameters only the task or the model can
judge -- a bad ``mixer_cfg`` keyword, heads that do not divide ``d_model``, an unknown positional
encoding -- fail before anything trains, with the grid file and line.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seqlab.experiments.config import (
    RUN_FIELDS,
    ConfigError,
    RunConfig,
    apply_overrides,
    check_grid_size,
    load_config_file,
    where,
)
from seqlab.registry import names

SWEEPS = {"mixers": "mixer", "widths": "d_model", "lrs": "lr", "seeds": "seed"}
OPTIONAL_SWEEPS = ("randomized_positions", "pos_enc", "state_init", "n_layers")
EXPERIMENT_KEYS = {"task", "task_params", "difficulty", "mixer_cfg", *SWEEPS, *OPTIONAL_SWEEPS}
SCALAR_FIELDS = set(RUN_FIELDS) - {"task", "mixer", "task_params", "mixer_cfg", "d_model", "lr", "seed"}
NO_MIXER = "none"  # pointer_network without encoder blocks


@dataclass
class Grid:
    name: str
    runs: list[RunConfig] = field(default_factory=list)
    path: Path | None = None
    resources: dict = field(default_factory=dict)  # per-cell resources for a cluster executor


# top-level ``resources:`` of a grid file: what each cell asks a cluster executor (Ray) for
RESOURCES = {"cpus_per_cell": "a number > 0", "gpus_per_cell": "a number >= 0", "max_retries": "an int >= 0"}


def _resources(path, data) -> dict:
    res = _mapping(path, data, "resources")
    out = {}
    for key, v in res.items():
        if key not in RESOURCES:
            raise ConfigError(
                f"{where(path, res, key)}: unknown field 'resources.{key}'; valid: {', '.join(RESOURCES)}"
            )
        ok = not isinstance(v, bool) and isinstance(v, (int, float))
        if key == "cpus_per_cell":
            ok = ok and v > 0
        elif key == "gpus_per_cell":
            ok = ok and v >= 0
        else:
            ok = ok and isinstance(v, int) and v >= 0
        if not ok:
            raise ConfigError(
                f"{where(path, res, key)}: field 'resources.{key}' expects {RESOURCES[key]}, got {v!r}"
            )
        out[key] = v
    return out


Check = Callable[[RunConfig], object]  # raises ValueError/TypeError on a config it cannot build
MODEL_FIELDS = ("model", "mixer", "mixer_cfg", "d_model", "n_layers", "pos_enc", "randomized_positions")
MODEL_FIELDS += ("state_init", "eval_lengths")


def _as_list(path, mapping, key):
    v = mapping[key]
    if not isinstance(v, list) or not v:
        raise ConfigError(f"{where(path, mapping, key)}: field '{key}' must be a non-empty list, got {v!r}")
    return v


def _number(path, mapping, key, v):
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{where(path, mapping, key)}: field '{key}' expects numbers, got {v!r}")
    return v


def _mapping(path, mapping, key):
    v = mapping.get(key, {})
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ConfigError(f"{where(path, mapping, key)}: field '{key}' must be a mapping, got {v!r}")
    return v


def _check_name(path, mapping, key, kind, value):
    valid = names(kind)
    if value not in valid:
        raise ConfigError(
            f"{where(path, mapping, key)}: field '{key}': unknown {kind} {value!r}; "
            f"valid names: {', '.join(valid) or '(none registered)'}"
        )


def expand(data, path="<grid>", *, check_task: Check | None = None, check_model: Check | None = None) -> Grid:
    """Expand parsed grid ``data`` into runs, validating every field (see the module docstring)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a grid must be a mapping with 'experiments'")
    unknown = sorted(set(data) - {"name", "defaults", "experiments", "resources"})
    if unknown:
        raise ConfigError(
            f"{where(path, data, unknown[0])}: unknown top-level field '{unknown[0]}'; "
            f"valid: name, defaults, experiments, resources"
        )
    defaults = dict(_mapping(path, data, "defaults"))
    for key in defaults:
        if key not in RUN_FIELDS or key in ("task", "mixer"):
            raise ConfigError(
                f"{where(path, data['defaults'], key)}: unknown field 'defaults.{key}'; "
                f"valid: {', '.join(sorted(set(RUN_FIELDS) - {'task', 'mixer'}))}"
            )
        if key == "lr":
            defaults[key] = _number(path, data["defaults"], key, defaults[key])
    if "experiments" not in data:
        raise ConfigError(f"{path}: missing field 'experiments' (a list of task blocks)")
    experiments = _as_list(path, data, "experiments")
    grid = Grid(
        name=str(data.get("name") or Path(str(path)).stem),
        path=Path(str(path)),
        resources=_resources(path, data),
    )
    seen = set()
    for i, exp in enumerate(experiments):
        if not isinstance(exp, dict):
            raise ConfigError(f"{path}: experiments[{i}] must be a mapping, got {exp!r}")
        runs = _expand_experiment(path, exp, i, defaults, data.get("defaults") or {}, check_task, check_model)
        for run in runs:
            if run.key() not in seen:
                seen.add(run.key())
                grid.runs.append(run)
        check_grid_size(len(grid.runs), str(path))
    return grid


def _field_where(path, err, exp, defaults_map) -> str:
    """Locate the field a :class:`RunConfig` error names: the experiment's own key, else defaults'."""
    m = re.search(r"field '(\w+)'", str(err))
    name = m.group(1) if m else None
    if name in exp:
        return where(path, exp, name)
    if name in defaults_map:
        return where(path, defaults_map, name)
    return where(path, exp, None)


def _model_where(path, exp, cfg: RunConfig, defaults_map, err) -> str:
    """The grid line to blame for a model that cannot be built (the error's field, else mixer_cfg)."""
    text = str(err).lower()
    for name, words in (("pos_enc", ("pos_enc", "positional")), ("state_init", ("state_init",))):
        if any(w in text for w in words):
            for holder in (exp, defaults_map):
                if name in holder:
                    return where(path, holder, name)
    mixer_cfg = exp.get("mixer_cfg") or {}
    if cfg.mixer in mixer_cfg:
        return where(path, mixer_cfg, cfg.mixer)
    return where(path, exp, "widths" if "widths" in exp else "mixers")


def _expand_experiment(path, exp, i, defaults, defaults_map, check_task=None, check_model=None):
    label = f"experiments[{i}]"
    for key in exp:
        if key not in EXPERIMENT_KEYS and key not in SCALAR_FIELDS:
            raise ConfigError(
                f"{where(path, exp, key)}: unknown field '{label}.{key}'; valid: "
                f"{', '.join(sorted(EXPERIMENT_KEYS | SCALAR_FIELDS))}"
            )
    if "task" not in exp:
        raise ConfigError(f"{where(path, exp, None)}: {label} is missing field 'task'")
    _check_name(path, exp, "task", "task", exp["task"])
    if "mixers" not in exp:
        raise ConfigError(f"{where(path, exp, None)}: {label} is missing field 'mixers'")
    mixers = _as_list(path, exp, "mixers")
    for m in mixers:
        if m != NO_MIXER:
            _check_name(path, exp, "mixers", "mixer", m)
    widths = _as_list(path, exp, "widths") if "widths" in exp else [defaults.get("d_model", 64)]
    lrs = (
        [_number(path, exp, "lrs", v) for v in _as_list(path, exp, "lrs")]
        if "lrs" in exp
        else [defaults.get("lr", 1e-3)]
    )
    seeds = _as_list(path, exp, "seeds") if "seeds" in exp else [defaults.get("seed", 0)]
    base_params = dict(_mapping(path, exp, "task_params"))
    difficulty = _mapping(path, exp, "difficulty")
    diff_keys = list(difficulty)
    diff_vals = [_as_list(path, difficulty, k) for k in diff_keys]
    optional = {k: _as_list(path, exp, k) for k in OPTIONAL_SWEEPS if k in exp}
    scalars = {k: exp[k] for k in exp if k in SCALAR_FIELDS and k not in optional}
    mixer_cfg = _mapping(path, exp, "mixer_cfg")
    for name, cfg in mixer_cfg.items():
        if name not in mixers or not isinstance(cfg, dict):
            raise ConfigError(
                f"{where(path, mixer_cfg, name)}: field 'mixer_cfg.{name}' must map a listed mixer "
                f"({', '.join(mixers)}) to its keyword arguments, got {cfg!r}"
            )
    sizes = [len(mixers), len(widths), len(lrs), len(seeds), *map(len, diff_vals)]
    sizes += [len(v) for v in optional.values()]
    check_grid_size(math.prod(sizes), f"{where(path, exp, None)}: {label}")
    checked, built = set(), {}
    for combo in itertools.product(*diff_vals) if diff_keys else [()]:
        params = {**base_params, **dict(zip(diff_keys, combo))}
        frozen = repr(sorted(params.items()))
        if frozen not in checked:
            checked.add(frozen)
            line_key = diff_keys[0] if diff_keys else "task_params" if base_params else "task"
            holder = difficulty if diff_keys else exp
            try:
                if check_task is not None:
                    check_task(RunConfig(task=exp["task"], mixer=mixers[0], task_params=params))
            except (ValueError, TypeError) as err:
                raise ConfigError(
                    f"{where(path, holder, line_key)}: {label} task {exp['task']!r} with {params}: {err}"
                ) from err
        opt_keys = list(optional)
        for mixer, width, lr, seed, *rest in itertools.product(
            mixers, widths, lrs, seeds, *[optional[k] for k in opt_keys]
        ):
            kw = {**defaults, **scalars, **dict(zip(opt_keys, rest))}
            for swept in ("d_model", "lr", "seed"):
                kw.pop(swept, None)
            try:
                run = RunConfig(
                    task=exp["task"],
                    mixer=mixer,
                    task_params=params,
                    mixer_cfg=dict(mixer_cfg.get(mixer, {})),
                    d_model=width,
                    lr=lr,
                    seed=seed,
                    **kw,
                )
            except (ConfigError, TypeError) as err:
                raise ConfigError(f"{_field_where(path, err, exp, defaults_map)}: {label}: {err}") from err
            if check_model is not None:
                ident = repr([run.task, sorted(params.items())] + [getattr(run, f) for f in MODEL_FIELDS])
                if ident not in built:
                    built[ident] = True
                    try:
                        check_model(run)
                    except (ValueError, TypeError, KeyError, AssertionError, RuntimeError) as err:
                        at = _model_where(path, exp, run, defaults_map, err)
                        raise ConfigError(
                            f"{at}: {label}: model {run.mixer!r} "
                            f"(d_model={run.d_model}, n_layers={run.n_layers}, pos_enc={run.pos_enc!r}, "
                            f"mixer_cfg={run.mixer_cfg}) cannot be built: {type(err).__name__}: {err}"
                        ) from err
            yield run


def load_grid(
    path,
    overrides: list[str] | None = None,
    *,
    check_task: Check | None = None,
    check_model: Check | None = None,
) -> Grid:
    """Read and expand the grid file at ``path`` (``overrides``: ``defaults.steps=100`` style)."""
    data = load_config_file(path)
    apply_overrides(data, overrides or [])
    return expand(data, path, check_task=check_task, check_model=check_model)
