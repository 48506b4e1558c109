"""The bench suites and the bench glue of grid loading (:mod:`seqlab.experiments.grid` expands).

Before anything trains, every task of a grid is built once and every distinct model config is built
once (tiny, on CPU), so a bad ``mixer_cfg`` keyword, heads that do not divide ``d_model`` or an
unknown positional encoding fail up front with the grid file and line.
"""

from __future__ import annotations

from pathlib import Path

from seqlab.experiments.grid import Grid, expand
from seqlab.experiments.grid import load_grid as _load_grid

SUITES_DIR = Path(__file__).parent / "suites"


def suite_names() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def suite_path(name: str) -> Path:
    path = SUITES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown suite {name!r}; valid suites: {', '.join(suite_names())}")
    return path


def suite_defaults(name: str) -> dict:
    """The ``defaults`` mapping of suite ``name``: a claim built on it shares the suite's store rows.

    (Keys hash only the fields that were set, so a RunConfig made with these defaults and the same
    task, mixer and sweep values has the key of the suite's run -- no settings copied by hand.)
    """
    from seqlab.experiments.config import load_config_file

    return dict(load_config_file(suite_path(name)).get("defaults") or {})


def check_task(cfg) -> None:
    from seqlab.bench.run import build_task

    build_task(cfg)


def model_checker():
    """A ``check_model`` that builds each distinct model once, on CPU, with one block.

    Distinct: the fields that shape the model plus what the task gives it (vocabulary, input
    width, outputs, longest test length); one block raises what every block would.
    """
    import dataclasses

    import torch

    from seqlab.bench.run import build_model, build_task
    from seqlab.experiments.grid import MODEL_FIELDS

    seen = set()

    def check(cfg) -> None:
        task = build_task(cfg)
        longest = None if task.test_lengths is None else max(task.test_lengths)
        ident = repr(
            [task.vocab_size, getattr(task, "d_input", None), task.n_outputs, longest]
            + [getattr(cfg, f) for f in MODEL_FIELDS if f != "n_layers"]
        )
        if ident in seen:
            return
        with torch.device("cpu"):
            build_model(dataclasses.replace(cfg, n_layers=1), task)
        seen.add(ident)

    return check


def load_grid(path, overrides: list[str] | None = None, *, check: bool = True) -> Grid:
    """Read, expand and (with ``check``) validate the grid file at ``path``."""
    if not check:
        return _load_grid(path, overrides)
    return _load_grid(path, overrides, check_task=check_task, check_model=model_checker())


def load_suite(name: str, overrides: list[str] | None = None, *, check: bool = True) -> Grid:
    return load_grid(suite_path(name), overrides, check=check)


__all__ = ["Grid", "expand", "load_grid", "load_suite", "suite_defaults", "suite_names", "suite_path"]
