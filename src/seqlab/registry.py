"""One registry for every kind of seqlab component.

Components register themselves with a decorator where they are defined::

    @register("mixer", "s4d", papers=["Efficiently Modeling Long Sequences with Structured State Spaces"])
    class S4D(Mixer): ...

and are built by name::

    create("mixer", "s4d", d_model=64)

Each kind maps to the package whose modules hold its components; the package is imported the
first time the kind is looked up, so ``names("mixer")`` works without importing anything first.
The registry itself imports no seqlab package at module level (it sits below all of them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# kind -> package whose import registers that kind's components.
KIND_PACKAGES: dict[str, str] = {
    "mixer": "seqlab.mixers",
    "positional": "seqlab.mixers",
    "model": "seqlab.models",
    "task": "seqlab.tasks",
    "tokenizer": "seqlab.tokenize",
    "strategy": "seqlab.continual",
    "scenario": "seqlab.continual",
    "probe": "seqlab.probe",
    "decoder": "seqlab.decode",
}


@dataclass(frozen=True)
class Entry:
    """A registered component: its constructor plus what the listing commands show."""

    kind: str
    name: str
    obj: Callable[..., Any]
    papers: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        doc = (self.obj.__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""


_REGISTRY: dict[str, dict[str, Entry]] = {}


def register(kind: str, name: str, *, papers: Iterable[str] = (), **info: Any):
    """Decorator registering ``obj`` as component ``name`` of ``kind``.

    ``papers`` are exact titles from the paper catalog (checked when ``seqlab papers`` runs and
    in the tests); ``info`` holds free-form metadata for listings (modes, state size, ...).
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"component name must be a non-empty string, got {name!r}")

    def deco(obj):
        table = _REGISTRY.setdefault(kind, {})
        old = table.get(name)
        if old is not None and old.obj is not obj and _qualname(old.obj) != _qualname(obj):
            raise ValueError(f"{kind} {name!r} is already registered by {_qualname(old.obj)}")
        table[name] = Entry(kind, name, obj, tuple(papers), dict(info))
        return obj

    return deco


def _qualname(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _ensure_loaded(kind: str) -> None:
    pkg = KIND_PACKAGES.get(kind)
    if pkg is not None:
        importlib.import_module(pkg)


def kinds() -> list[str]:
    """All kinds that have (or can have) registered components."""
    for kind in KIND_PACKAGES:
        _try_load(kind)
    return sorted(set(KIND_PACKAGES) | set(_REGISTRY))


def _try_load(kind: str) -> None:
    try:
        _ensure_loaded(kind)
    except ModuleNotFoundError as err:  # a kind whose package is not written yet
        if err.name is None or not err.name.startswith("seqlab"):
            raise


def names(kind: str) -> list[str]:
    """Sorted names registered under ``kind``."""
    _try_load(kind)
    return sorted(_REGISTRY.get(kind, {}))


def entries(kind: str) -> list[Entry]:
    return [_REGISTRY[kind][n] for n in names(kind)]


def all_entries() -> list[Entry]:
    return [e for k in kinds() for e in entries(k)]


def get(kind: str, name: str) -> Entry:
    """The entry for ``name``; a ``KeyError`` listing the valid names when it is unknown."""
    valid = names(kind)
    if not valid and kind not in KIND_PACKAGES:
        raise KeyError(f"unknown kind {kind!r}; valid kinds: {', '.join(kinds())}")
    if name not in _REGISTRY.get(kind, {}):
        raise KeyError(f"unknown {kind} {name!r}; valid names: {', '.join(valid) or '(none registered)'}")
    return _REGISTRY[kind][name]


def create(kind: str, name: str, **cfg: Any) -> Any:
    """Build component ``name`` of ``kind`` with keyword configuration ``cfg``."""
    return get(kind, name).obj(**cfg)
