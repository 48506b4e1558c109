"""One registry for every kind of seqlab component.

Components register themselves with a decorator where they are defined, naming the paper whose
method they implement (any paper: title and arXiv id) apart from the catalog papers that use them::

    @register(
        "mixer", "s4d",
        implements=Paper("On the Parameterization and Initialization of Diagonal State Space Models",
                         "2206.11893"),
        used_by=["Efficiently Modeling Long Sequences with Structured State Spaces"],
    )
    class S4D(Mixer): ...

and are built by name::

    create("mixer", "s4d", d_model=64)

``used_by`` holds exact titles from :data:`seqlab.papers.catalog.CATALOG` (checked by the tests);
whether such a catalog paper counts as implemented is judged in :mod:`seqlab.papers.status`, not
here. What a class already declares (a mixer's ``modes``, ``state_size``, ``state_growth``) is read
from the class, never repeated at registration.

Each kind maps to the package whose modules hold its components; the package is imported the
first time the kind is looked up, so ``names("mixer")`` works without importing anything first.
A kind whose package is not written yet is empty; a missing optional third-party package (an
extra of ``pyproject.toml``) leaves out what needs it, with a warning naming the extra to install;
any other failed import -- above all a broken import inside seqlab -- is raised as it is.
The registry itself imports no seqlab package at module level (it sits below all of them).
"""

from __future__ import annotations

import importlib
import re
import warnings
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
    "embedder": "seqlab.embed",
    "reasoner": "seqlab.reason",
    "recommender": "seqlab.recsys",
    "timeseries": "seqlab.timeseries",
    "generator": "seqlab.generate",
}

# top-level module of an optional third-party package -> the pyproject extra that installs it.
OPTIONAL_EXTRAS: dict[str, str] = {
    "mlxtend": "data",
    "mnist1d": "data",
    "sklearn": "data",
    "gensim": "data",
    "einops": "bench",
    "vector_quantize_pytorch": "bench",
    "fla": "bench",
}

# Keywords that registration no longer takes, and what replaced them.
_RETIRED = {
    "papers": "implements=Paper(title, arxiv) for the method; used_by=[catalog titles] for its users",
    "cites": "implements=Paper(title, arxiv)",
    "modes": "the class attribute `modes`",
    "state_size": "the class attribute `state_size`",
    "state_growth": "the class attribute `state_growth`",
    "state": "the class docstring (state layout) and the class attribute `state_size`",
}

_ARXIV = re.compile(r"^\d{4}\.\d{4,5}$")


@dataclass(frozen=True)
class Paper:
    """A paper a component implements: exact title plus its arXiv id (or, without one, its venue)."""

    title: str
    arxiv: str | None = None
    venue: str | None = None

    def __post_init__(self):
        if not isinstance(self.title, str) or not self.title.strip():
            raise ValueError(f"Paper needs a non-empty title, got {self.title!r}")
        if self.arxiv is not None and not (isinstance(self.arxiv, str) and _ARXIV.match(self.arxiv)):
            raise ValueError(f"arXiv id must look like '2312.00752' (YYMM.NNNNN), got {self.arxiv!r}")
        if self.arxiv is None and not self.venue:
            raise ValueError(f"Paper {self.title!r} needs an arXiv id or, where it has none, a venue")

    @property
    def ref(self) -> str:
        """``arXiv 2312.00752`` or the venue."""
        return f"arXiv {self.arxiv}" if self.arxiv else str(self.venue)

    def __str__(self) -> str:
        return f"{self.title} ({self.ref})"

    def as_dict(self) -> dict[str, str | None]:
        return {"title": self.title, "arxiv": self.arxiv, "venue": self.venue}


@dataclass(frozen=True)
class Entry:
    """A registered component: its constructor, the papers it implements, the catalog papers using it."""

    kind: str
    name: str
    obj: Callable[..., Any]
    implements: tuple[Paper, ...] = ()
    used_by: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        doc = (self.obj.__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""

    @property
    def paper(self) -> str:
        """The implemented papers as one line (``"-"`` when the component is seqlab's own)."""
        return "; ".join(map(str, self.implements)) or "-"


_REGISTRY: dict[str, dict[str, Entry]] = {}
_MISSING_EXTRAS: dict[str, tuple[str, str]] = {}  # kind -> (missing module, extra)


def _papers(implements) -> tuple[Paper, ...]:
    items = (implements,) if isinstance(implements, Paper) else tuple(implements or ())
    for p in items:
        if not isinstance(p, Paper):
            raise TypeError(f"implements= takes Paper(title, arxiv) objects, got {p!r}")
    return items


def register(
    kind: str,
    name: str,
    *,
    implements: Paper | Iterable[Paper] = (),
    used_by: Iterable[str] = (),
    **info: Any,
):
    """Decorator registering ``obj`` as component ``name`` of ``kind``.

    ``implements`` is the paper (or papers) whose method ``obj`` implements; ``used_by`` are exact
    catalog titles of the papers that build on it; ``info`` holds listing metadata the class cannot
    tell (family, scenarios, description, ...).
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"component name must be a non-empty string, got {name!r}")
    retired = sorted(set(info) & set(_RETIRED))
    if retired:
        raise TypeError(
            f"register({kind!r}, {name!r}): {', '.join(retired)} no longer taken; use "
            + "; ".join(f"{k} -> {_RETIRED[k]}" for k in retired)
        )
    papers = _papers(implements)
    if isinstance(used_by, str):
        raise TypeError(f"used_by takes a list of catalog titles, got the string {used_by!r}")
    titles = tuple(used_by)

    def deco(obj):
        table = _REGISTRY.setdefault(kind, {})
        old = table.get(name)
        if old is not None and old.obj is not obj and _qualname(old.obj) != _qualname(obj):
            raise ValueError(f"{kind} {name!r} is already registered by {_qualname(old.obj)}")
        table[name] = Entry(kind, name, obj, papers, titles, dict(info))
        return obj

    return deco


def _qualname(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _load(kind: str) -> None:
    """Import the package of ``kind``; see the module docstring for which failures are tolerated."""
    pkg = KIND_PACKAGES.get(kind)
    if pkg is None or kind in _MISSING_EXTRAS:  # already loaded as far as the installed extras allow
        return
    try:
        importlib.import_module(pkg)
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if missing and (pkg == missing or pkg.startswith(missing + ".")):
            return  # the kind's own package is not written yet: an empty kind
        top = missing.split(".")[0]
        extra = OPTIONAL_EXTRAS.get(top)
        if extra is None:
            raise  # a broken seqlab import, or a missing required dependency
        if kind not in _MISSING_EXTRAS:
            warnings.warn(
                f"{pkg} could not be fully imported: optional package {top!r} is missing; "
                f"install the {extra!r} extra (pip install 'seqlab[{extra}]') for every {kind}",
                RuntimeWarning,
                stacklevel=3,
            )
        _MISSING_EXTRAS[kind] = (top, extra)


def kinds() -> list[str]:
    """All kinds that have (or can have) registered components."""
    for kind in KIND_PACKAGES:
        _load(kind)
    return sorted(set(KIND_PACKAGES) | set(_REGISTRY))


def names(kind: str) -> list[str]:
    """Sorted names registered under ``kind``."""
    _load(kind)
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
        hint = ""
        if kind in _MISSING_EXTRAS:
            mod, extra = _MISSING_EXTRAS[kind]
            hint = f" (some {kind}s were not loaded: {mod!r} is missing; pip install 'seqlab[{extra}]')"
        listed = ", ".join(valid) or "(none registered)"
        raise KeyError(f"unknown {kind} {name!r}; valid names: {listed}{hint}")
    return _REGISTRY[kind][name]


def create(kind: str, name: str, **cfg: Any) -> Any:
    """Build component ``name`` of ``kind`` with keyword configuration ``cfg``."""
    return get(kind, name).obj(**cfg)


# -- experiments: seeded functions that claims run as cells (seqlab.experiments.cell) --------------------
Experiment = Callable[[dict, int], dict]
_EXPERIMENTS: dict[str, Experiment] = {}
EXPERIMENT_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_.]+$")


def experiment(name: str) -> Callable[[Experiment], Experiment]:
    """Decorator registering ``fn(params, seed) -> dict`` as experiment ``name`` ("package.what")."""
    if not EXPERIMENT_NAME.match(name):
        raise ValueError(f"experiment name must be 'package.what' in lower case, got {name!r}")

    def deco(fn: Experiment) -> Experiment:
        old = _EXPERIMENTS.get(name)
        if old is not None and old is not fn:
            raise ValueError(f"experiment {name!r} is already registered by {old.__module__}.{old.__name__}")
        _EXPERIMENTS[name] = fn
        return fn

    return deco


def get_experiment(name: str) -> Experiment:
    """The function of experiment ``name``, importing its package (``seqlab.<first part>``) first."""
    if name not in _EXPERIMENTS:
        package = name.split(".", 1)[0]
        try:
            importlib.import_module(f"seqlab.{package}")
        except ModuleNotFoundError as err:
            if err.name != f"seqlab.{package}":
                raise
        if name not in _EXPERIMENTS:
            known = ", ".join(sorted(n for n in _EXPERIMENTS if n.startswith(package + "."))) or "none"
            raise KeyError(f"unknown experiment {name!r}; registered in seqlab.{package}: {known}")
    return _EXPERIMENTS[name]


def experiment_names() -> list[str]:
    return sorted(_EXPERIMENTS)
