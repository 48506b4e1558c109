"""Typed run configurations and config files with line-numbered errors.

:class:`RunConfig` describes one benchmark run (task, model, optimisation, evaluation).
:func:`config_key` hashes only the fields that were SET (those that differ from the dataclass
default) into :meth:`RunConfig.key`, the key of the results store: the same run is never trained
twice, and adding a field with a default later leaves every stored key unchanged.

:func:`load_config_file` reads YAML or TOML and keeps, for YAML, the line of every field
(PyYAML node marks); :class:`ConfigError` messages name the file, the field and its line. YAML
anchors/aliases (the "billion laughs" expansion) and duplicate keys are refused;
:func:`check_grid_size` bounds how many runs a grid may expand to.
:func:`apply_overrides` applies ``--set a.b=c`` style overrides.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def set_fields(config) -> dict[str, Any]:
    """The fields of a dataclass ``config`` that differ from their declared default (JSON-ready).

    Fields without a default are always included. A plain dict is returned as it is: every key
    it carries counts as set.
    """
    if isinstance(config, dict):
        return _jsonable(dict(config))
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"expected a dataclass config or a dict, got {type(config).__name__}")
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            out[f.name] = _jsonable(value)
            continue
        if _jsonable(value) != _jsonable(default) or isinstance(value, bool) != isinstance(default, bool):
            out[f.name] = _jsonable(value)
    return out


def config_key(config) -> str:
    """The store key of ``config``: sha256 (20 hex digits) of the sorted JSON of its set fields.

    Keying by the set fields only means a field added later with a default does not change the
    key of any config that leaves it at that default (its stored rows are still found).
    """
    text = json.dumps(set_fields(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class ConfigError(ValueError):
    """A malformed configuration: names the file, the field and (when known) its line."""


@dataclass(frozen=True)
class RunConfig:
    """One benchmark run: a task, a :class:`~seqlab.models.SequenceModel`, and how to fit it.

    ``target``: early-stop once the in-distribution metric reaches it (accuracy tasks only).
    ``state_init``: "zero" (default), "noise" or "foreign" -- the state-coverage interventions of
    "Understanding and Improving Length Generalization in Recurrent Models" (arXiv 2507.02782).
    ``eval_lengths``: test lengths for length generalization (default: spread over the task's).
    ``mixer``: a registered mixer name, or one name per layer joined by "+" (a hybrid stack such as
    "s4d+attention" with ``n_layers=2``).
    ``model``: "sequence_model" (embedding -> mixer blocks -> head) or "pointer_network" (pointer
    outputs; ``mixer`` builds its encoder blocks, "none" for none). ``pointer_mask``: whether the
    pointer network masks positions it already chose (True, the default) or must learn not to repeat.
    """

    task: str
    mixer: str
    task_params: dict = field(default_factory=dict)
    model: str = "sequence_model"
    mixer_cfg: dict = field(default_factory=dict)
    d_model: int = 64
    n_layers: int = 2
    pos_enc: str = "none"
    randomized_positions: int | None = None
    random_positions_at_eval: bool = False
    lr: float = 1e-3
    weight_decay: float = 0.01
    steps: int = 1000
    warmup: int = 50
    batch_size: int = 64
    seed: int = 0
    eval_every: int = 100
    eval_n: int = 256
    target: float | None = 0.99
    eval_lengths: tuple[int, ...] | None = None
    state_init: str = "zero"
    state_noise: float = 1.0
    pointer_mask: bool = True

    def __post_init__(self):
        for name in ("d_model", "n_layers", "steps", "batch_size", "eval_every", "eval_n"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"field '{name}': expected a positive int, got {v!r}")
        if not isinstance(self.lr, (int, float)) or isinstance(self.lr, bool) or not self.lr > 0:
            raise ConfigError(f"field 'lr': expected a positive number, got {self.lr!r}")
        if self.state_init not in ("zero", "noise", "foreign"):
            raise ConfigError(
                f"field 'state_init': expected 'zero', 'noise' or 'foreign', got {self.state_init!r}"
            )
        if not isinstance(self.pointer_mask, bool):
            raise ConfigError(f"field 'pointer_mask': expected true or false, got {self.pointer_mask!r}")
        if not self.pointer_mask and self.model != "pointer_network":
            raise ConfigError("field 'pointer_mask': only a pointer_network model has a pointer mask")
        if not isinstance(self.random_positions_at_eval, bool):
            raise ConfigError(
                "field 'random_positions_at_eval': expected true or false, "
                f"got {self.random_positions_at_eval!r}"
            )
        if self.random_positions_at_eval and self.randomized_positions is None:
            raise ConfigError(
                "field 'random_positions_at_eval': needs randomized_positions=M "
                "(the range sampled at evaluation)"
            )
        if self.eval_lengths is not None:
            object.__setattr__(self, "eval_lengths", tuple(int(x) for x in self.eval_lengths))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["eval_lengths"] = list(self.eval_lengths) if self.eval_lengths is not None else None
        return d

    def canonical(self) -> str:
        """Sorted-key JSON of every field (defaults included): the config column of a store row."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def key(self) -> str:
        """The store key: a hash of the fields that were set (see :func:`config_key`)."""
        return config_key(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown RunConfig field(s) {unknown}; valid fields: {sorted(names)}")
        return cls(**d)

    def replace(self, **kw) -> RunConfig:
        return dataclasses.replace(self, **kw)


RUN_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}


class Located(dict):
    """A dict from a config file that remembers the line of each key (``lines[key]``)."""

    def __init__(self, *a, lines=None, line=None, **kw):
        super().__init__(*a, **kw)
        self.lines: dict[str, int] = lines or {}
        self.line = line


MAX_GRID_RUNS = 10_000
"""The most runs one grid may expand to (:func:`check_grid_size`); a larger grid is almost always a typo."""

MAX_NESTING = 64
"""The deepest nesting of mappings/lists a config file may have."""


def check_grid_size(n_runs: int, where_: str = "<grid>", limit: int | None = None) -> None:
    """Raise :class:`ConfigError` when a grid expands to more than ``limit`` (:data:`MAX_GRID_RUNS`) runs.

    Call it with the size of the product *before* expanding it, so an accidental
    10 x 10 x ... sweep fails in microseconds instead of allocating every run.
    """
    limit = MAX_GRID_RUNS if limit is None else limit
    if n_runs > limit:
        raise ConfigError(
            f"{where_}: the grid expands to {n_runs:,} runs, more than the limit of {limit:,}; "
            f"split it into smaller grids or sweep fewer values"
        )


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses aliases and anchors while composing.

    Aliases (``*name``) are expanded by copying into every place they are used, so a few hundred bytes of
    nested aliases (the "billion laughs" file) expand to gigabytes. Config files do not need them, so
    the first anchor or alias is a :class:`ConfigError` naming its line -- before anything is expanded.
    """

    config_path = "<config>"

    def compose_node(self, parent, index):
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent) or anchor is not None:
            kind = f"alias '*{anchor}'" if isinstance(event, yaml.AliasEvent) else f"anchor '&{anchor}'"
            raise ConfigError(
                f"{self.config_path}:{event.start_mark.line + 1}: YAML {kind} is not allowed in config "
                f"files (aliases can expand exponentially); write the value out instead"
            )
        return super().compose_node(parent, index)


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _construct(node, loader, path, depth=0):
    """Nested :class:`Located` dicts and lists from a composed node; duplicate keys are errors."""
    if depth > MAX_NESTING:
        raise ConfigError(f"{path}:{node.start_mark.line + 1}: nested more than {MAX_NESTING} levels deep")
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
        raise ConfigError(f"{path}:{node.start_mark.line + 1}: YAML tag {node.tag!r} is not allowed here")
    if isinstance(node, yaml.MappingNode):
        out = Located(line=node.start_mark.line + 1)
        for k_node, v_node in node.value:
            line = k_node.start_mark.line + 1
            if not isinstance(k_node, yaml.ScalarNode):
                raise ConfigError(f"{path}:{line}: mapping keys must be plain scalars, not a {k_node.id}")
            key = loader.construct_object(k_node, deep=True)
            if key in out:
                raise ConfigError(
                    f"{path}:{line}: duplicate key {key!r} (first defined at line {out.lines[key]}); "
                    f"a key may appear once per mapping"
                )
            out[key] = _construct(v_node, loader, path, depth + 1)
            out.lines[key] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n, loader, path, depth + 1) for n in node.value]
    return loader.construct_object(node, deep=True)


def load_config_file(path) -> Located:
    """Parse a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file into nested :class:`Located` dicts.

    YAML is read with the safe loader (no Python objects); anchors/aliases, duplicate keys and
    nesting deeper than :data:`MAX_NESTING` are :class:`ConfigError` s naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a UTF-8 text file ({err})") from err
    if path.suffix == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: malformed TOML: {err}") from err
        return _toml_located(data, text)
    loader = _ConfigLoader(text)
    loader.config_path = str(path)
    try:
        node = loader.get_single_node()
        data = None if node is None else _construct(node, _ConfigLoader(""), path)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where_ = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where_}: malformed YAML: {err}") from err
    except RecursionError as err:
        raise ConfigError(f"{path}: nested too deeply to read") from err
    finally:
        loader.dispose()
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    if not isinstance(data, Located):
        raise ConfigError(f"{path}:1: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _toml_located(data, text: str):
    """TOML carries no marks: find each key's first ``key =`` / ``[key]`` line in the text."""
    lines = text.splitlines()

    def line_of(key: str) -> int | None:
        pat = re.compile(rf"^\s*(\[+\s*)?(\"?){re.escape(key)}\2\s*(=|\]|\.)")
        return next((i + 1 for i, s in enumerate(lines) if pat.search(s)), None)

    def conv(v):
        if isinstance(v, dict):
            return Located({k: conv(x) for k, x in v.items()}, lines={k: line_of(k) for k in v})
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    return conv(data)


def where(path, mapping, key) -> str:
    """``"file:line"`` of ``key`` inside ``mapping`` (just the file when the line is unknown)."""
    line = getattr(mapping, "lines", {}).get(key) or getattr(mapping, "line", None)
    return f"{path}:{line}" if line else str(path)


def parse_value(text: str) -> Any:
    """A ``--set`` value: YAML scalar/list syntax (``3``, ``1e-3``, ``[1, 2]``, ``null``, ``abc``).

    Read like a config file: no anchors/aliases, no duplicate keys, no unsafe tags.
    """
    loader = _ConfigLoader(text)
    loader.config_path = f"override value {text!r}"
    try:
        node = loader.get_single_node()
        value = None if node is None else _construct(node, _ConfigLoader(""), loader.config_path)
    except yaml.YAMLError as err:
        raise ConfigError(f"cannot parse override value {text!r}: {err}") from err
    except RecursionError as err:
        raise ConfigError(f"override value {text!r} is nested too deeply") from err
    finally:
        loader.dispose()
    if isinstance(value, str):
        try:
            return float(value) if re.fullmatch(r"[-+]?\d*\.?\d+[eE][-+]?\d+", value) else value
        except ValueError:
            return value
    return value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=c`` overrides to a nested dict (creating mappings along the way)."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.sub=value")
        dotted, text = item.split("=", 1)
        keys = [k for k in dotted.strip().split(".") if k]
        if not keys:
            raise ConfigError(f"override {item!r} has an empty key")
        node = data
        for k in keys[:-1]:
            nxt = node.get(k)
            if nxt is None:
                nxt = node[k] = Located()
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {item!r}: {k!r} is not a mapping")
            node = nxt
        node[keys[-1]] = parse_value(text)
    return data
