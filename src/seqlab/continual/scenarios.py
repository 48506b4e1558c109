"""Scenarios: ways to cut a labelled data set into a stream of experiences.

From "Three scenarios for continual learning" (van de Ven & Tolias, arXiv 1904.07734):

- ``task-il``   task identity is given at test time; each task owns its output units (multi-head:
  logits outside the task's units are masked out);
- ``domain-il`` one shared head of ``k`` units; experience ``t`` maps its classes onto ``0..k-1``;
- ``class-il``  one head over all classes; after ``t`` experiences the prediction is an argmax over
  every class seen so far (task identity must be inferred).

Protocols build a :class:`Stream` for one scenario: ``split`` (disjoint class groups), ``permuted``
(a fixed pixel permutation per experience), ``rotated`` (a fixed rotation per experience),
``blurry`` (a fraction of each experience's training data is swapped with other experiences', so
boundaries overlap) and ``online`` (the same stream seen once, in small batches, evaluated along
the way; "A Comprehensive Empirical Evaluation on Online Continual Learning"), and ``sequence-tasks``
(a text stream: one sequence-classification task of :mod:`seqlab.tasks` per experience, learned by a
``SequenceModel``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from seqlab.continual.data import Dataset, load
from seqlab.registry import Paper, register

THREE = "Three scenarios for continual learning"
ONLINE = "A Comprehensive Empirical Evaluation on Online Continual Learning"
LLM_SURVEY = "Continual Learning of Large Language Models: A Comprehensive Survey"
SCENARIOS = ("task", "domain", "class")


@dataclass
class Experience:
    """One experience: training and test data already mapped to output units."""

    index: int
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    units: tuple[int, ...]  # output units this experience's labels use
    t_train: torch.Tensor | None = None  # task id per training example (blurry streams mix them)

    def __post_init__(self):
        if self.t_train is None:
            self.t_train = torch.full((len(self.y_train),), self.index, dtype=torch.long)


@dataclass
class Stream:
    """A sequence of experiences under one scenario."""

    scenario: str
    experiences: list[Experience]
    n_outputs: int
    shape: tuple[int, ...]
    name: str = ""
    online: bool = False
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {SCENARIOS}, got {self.scenario!r}")
        if not self.experiences:
            raise ValueError("a stream needs at least one experience")

    @property
    def input_dim(self) -> int:
        return math.prod(self.shape)

    def __len__(self) -> int:
        return len(self.experiences)

    def active(self, task_ids: torch.Tensor, n_seen: int) -> torch.Tensor:
        """Bool ``(n, n_outputs)``: the units each example may be classified into."""
        n = len(task_ids)
        if self.scenario == "domain":
            return torch.ones(n, self.n_outputs, dtype=torch.bool)
        if self.scenario == "class":
            mask = torch.zeros(self.n_outputs, dtype=torch.bool)
            for e in self.experiences[:n_seen]:
                mask[list(e.units)] = True
            return mask.expand(n, -1).clone()
        table = torch.zeros(len(self.experiences), self.n_outputs, dtype=torch.bool)
        for e in self.experiences:
            table[e.index, list(e.units)] = True
        return table[task_ids]


def _check_scenario(scenario: str) -> str:
    s = scenario.removesuffix("-il")
    if s not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected task-il, domain-il or class-il")
    return s


def _parse_groups(n_classes: int, classes_per_task: int) -> list[list[int]]:
    if classes_per_task < 1 or n_classes % classes_per_task:
        raise ValueError(f"classes_per_task must divide {n_classes}, got {classes_per_task}")
    return [list(range(i, i + classes_per_task)) for i in range(0, n_classes, classes_per_task)]


@register("scenario", "split", implements=Paper(THREE, "1904.07734"), used_by=[THREE], type="protocol")
def split_stream(
    dataset: str | Dataset = "mnist",
    scenario: str = "class",
    classes_per_task: int = 2,
    max_train_per_class: int | None = None,
) -> Stream:
    """Split a data set into disjoint groups of ``classes_per_task`` classes (split MNIST)."""
    s = _check_scenario(scenario)
    ds = load(dataset) if isinstance(dataset, str) else dataset
    groups = _parse_groups(ds.n_classes, classes_per_task)
    exps = []
    for t, group in enumerate(groups):
        tr = torch.isin(ds.y_train, torch.tensor(group))
        if max_train_per_class is not None:
            keep = torch.zeros_like(tr)
            for c in group:
                keep[torch.nonzero(ds.y_train == c).flatten()[:max_train_per_class]] = True
            tr = tr & keep
        te = torch.isin(ds.y_test, torch.tensor(group))
        y_tr, y_te = ds.y_train[tr], ds.y_test[te]
        if s == "domain":
            y_tr, y_te, units = y_tr - group[0], y_te - group[0], tuple(range(classes_per_task))
        else:
            units = tuple(group)
        exps.append(Experience(t, ds.x_train[tr].flatten(1), y_tr, ds.x_test[te].flatten(1), y_te, units))
    n_out = classes_per_task if s == "domain" else ds.n_classes
    return Stream(s, exps, n_out, ds.shape, name=f"split-{ds.name}")


def _transformed_stream(ds: Dataset, s: str, n_tasks: int, transform, name: str) -> Stream:
    k = ds.n_classes
    exps = []
    for t in range(n_tasks):
        off = 0 if s == "domain" else t * k
        exps.append(
            Experience(
                t,
                transform(ds.x_train, t),
                ds.y_train + off,
                transform(ds.x_test, t),
                ds.y_test + off,
                tuple(range(off, off + k)),
            )
        )
    return Stream(s, exps, k if s == "domain" else k * n_tasks, ds.shape, name=name)


@register("scenario", "permuted", implements=Paper(THREE, "1904.07734"), used_by=[THREE], type="protocol")
def permuted_stream(
    dataset: str | Dataset = "mnist", scenario: str = "domain", n_tasks: int = 10, seed: int = 0
) -> Stream:
    """Every experience holds all classes under its own fixed random pixel permutation."""
    s = _check_scenario(scenario)
    ds = load(dataset) if isinstance(dataset, str) else dataset
    g = torch.Generator().manual_seed(seed)
    d = math.prod(ds.shape)
    perms = [torch.arange(d)] + [torch.randperm(d, generator=g) for _ in range(n_tasks - 1)]
    return _transformed_stream(ds, s, n_tasks, lambda x, t: x.flatten(1)[:, perms[t]], f"permuted-{ds.name}")


def rotate(x: torch.Tensor, shape: tuple[int, ...], degrees: float) -> torch.Tensor:
    """Rotate flattened square images ``x (n, h*w)`` by ``degrees`` (bilinear, zero padding)."""
    if len(shape) != 2:
        raise ValueError(f"rotation needs 2-D images, got example shape {shape}")
    a = math.radians(degrees)
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]])
    img = x.reshape(-1, 1, *shape)
    grid = F.affine_grid(theta.expand(len(img), 2, 3), list(img.shape), align_corners=False)
    return F.grid_sample(img, grid, align_corners=False).flatten(1)


@register(
    "scenario", "rotated", implements=Paper("Gradient Episodic Memory for Continual Learning", "1706.08840"),
    type="protocol",
)
def rotated_stream(
    dataset: str | Dataset = "mnist", scenario: str = "domain", n_tasks: int = 5, step_degrees: float = 30.0
) -> Stream:
    """Experience ``t`` shows every class rotated by ``t * step_degrees``."""
    s = _check_scenario(scenario)
    ds = load(dataset) if isinstance(dataset, str) else dataset
    return _transformed_stream(
        ds, s, n_tasks, lambda x, t: rotate(x, ds.shape, t * step_degrees), f"rotated-{ds.name}"
    )


@register(
    "scenario",
    "blurry",
    implements=Paper("Rainbow Memory: Continual Learning with a Memory of Diverse Samples", "2103.17230"),
    type="protocol",
)
def blurry(stream: Stream, fraction: float = 0.1, seed: int = 0) -> Stream:
    """Swap ``fraction`` of each experience's training examples with other experiences' examples.

    Each moved example keeps its label and task id, so task boundaries overlap; test sets stay.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must lie in [0, 1), got {fraction}")
    g = torch.Generator().manual_seed(seed)
    pools = []
    for e in stream.experiences:
        perm = torch.randperm(len(e.y_train), generator=g)
        n_out = int(fraction * len(perm))
        pools.append((perm[n_out:], perm[:n_out]))
    exps = []
    n = len(stream.experiences)
    for i, e in enumerate(stream.experiences):
        xs, ys, ts = [e.x_train[pools[i][0]]], [e.y_train[pools[i][0]]], [e.t_train[pools[i][0]]]
        for j, o in enumerate(stream.experiences):  # receive a share of every other experience's moved part
            if j == i or n == 1:
                continue
            moved = pools[j][1]
            share = moved[(i if i < j else i - 1) :: (n - 1)]
            xs.append(o.x_train[share])
            ys.append(o.y_train[share])
            ts.append(o.t_train[share])
        exps.append(replace(e, x_train=torch.cat(xs), y_train=torch.cat(ys), t_train=torch.cat(ts)))
    return replace(stream, experiences=exps, name=f"blurry-{stream.name}")


@register("scenario", "online", implements=Paper(ONLINE, "2308.10328"), used_by=[ONLINE], type="protocol")
def online(stream: Stream) -> Stream:
    """The same stream, run as a single pass in small batches and evaluated along the way."""
    return replace(stream, online=True, name=f"online-{stream.name}")


SEQUENCE_TASKS = ("parity_check", "even_pairs", "cycle_navigation", "modular_arithmetic")


@register("scenario", "sequence-tasks", used_by=[LLM_SURVEY], type="protocol")
def sequence_stream(
    tasks: tuple[str, ...] = SEQUENCE_TASKS,
    scenario: str = "task",
    n_train: int = 512,
    n_test: int = 256,
    length: int = 12,
    mixer: str = "lstm",
) -> Stream:
    """A stream of sequence-classification tasks from :mod:`seqlab.tasks`, one task per experience.

    Each example is the task's token sequence (left-padded with a shared pad id to a common length)
    labelled by its target at the last scored position; vocabularies share one id space. Strategies
    train a :class:`seqlab.models.SequenceModel` (``mixer``) read at the last position.
    """
    from seqlab.registry import create

    s = _check_scenario(scenario)
    made = []
    for name in tasks:
        task = create("task", name)
        if task.output != "classes" or task.vocab_size is None:
            raise ValueError(f"task {name!r} is not token-input classification (output={task.output!r})")
        made.append(
            (
                task,
                [
                    task.sample(n, seed=0, split=sp, length=length)
                    for n, sp in ((n_train, "train"), (n_test, "test"))
                ],
            )
        )
    pad = max(t.vocab_size for t, _ in made)
    L = max(b["inputs"].shape[1] for _, bs in made for b in bs)
    k = max(t.n_outputs for t, _ in made)
    exps = []
    for i, (task, (tr, te)) in enumerate(made):
        off = 0 if s == "domain" else i * k
        xy = []
        for b in (tr, te):
            last = b["mask"].float().cumsum(1).argmax(1)  # index of the last scored position
            y = b["targets"].gather(1, last.unsqueeze(1)).squeeze(1)
            x = torch.full((len(y), L), pad, dtype=torch.long)
            x[:, L - b["inputs"].shape[1] :] = b["inputs"]
            xy += [x, y + off]
        exps.append(Experience(i, xy[0], xy[1], xy[2], xy[3], tuple(range(off, off + task.n_outputs))))
    n_out = k if s == "domain" else k * len(tasks)
    return Stream(s, exps, n_out, (L,), name="sequence-tasks", info={"vocab_size": pad + 1, "mixer": mixer})


@register(
    "scenario", "task-il", implements=Paper(THREE, "1904.07734"), used_by=[THREE], type="scenario",
    needs_task_id=True,
)
class TaskIL:
    """Task-incremental: task id given at test time; logits restricted to the task's own units."""

    key = "task"


@register(
    "scenario", "domain-il", implements=Paper(THREE, "1904.07734"), used_by=[THREE], type="scenario",
    needs_task_id=False,
)
class DomainIL:
    """Domain-incremental: one shared head; task id neither given nor needed."""

    key = "domain"


@register(
    "scenario", "class-il", implements=Paper(THREE, "1904.07734"), used_by=[THREE], type="scenario",
    needs_task_id=False,
)
class ClassIL:
    """Class-incremental: one head over all classes seen so far; task id must be inferred."""

    key = "class"
