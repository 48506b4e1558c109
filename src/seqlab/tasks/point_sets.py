"""Shared base of the planar point-set tasks (convex hull, TSP of "Pointer Networks", arXiv 1506.03134).

The length knob is the number of points ``N``: training sets have ``min_points..max_train_points``
points, test sets ``max_train_points + 1..max_test_points``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seqlab.tasks.base import Task, check_ints


@dataclass
class PointSetTask(Task):
    """Pointer-output task over ``N`` uniform points of the unit square."""

    min_points: int = 5
    max_train_points: int = 10
    max_test_points: int = 20
    n_outputs: int = field(default=0, init=False)
    output: str = field(default="pointer", init=False)
    metric: str = field(default="accuracy", init=False)

    def check_points(self, name: str, fewest: int, most: int | None = None) -> None:
        """``ValueError`` unless ``fewest <= min_points <= max_train_points < max_test_points <= most``."""
        check_ints(name, minimum=fewest, min_points=self.min_points)
        check_ints(name, max_train_points=self.max_train_points, max_test_points=self.max_test_points)
        top = self.max_test_points if most is None else most
        if not self.min_points <= self.max_train_points < self.max_test_points <= top:
            bound = "" if most is None else f" <= {most}"
            raise ValueError(
                f"{name} needs {fewest} <= min_points <= max_train_points < max_test_points{bound}, got "
                f"{self.min_points}, {self.max_train_points}, {self.max_test_points}"
            )

    @property
    def train_lengths(self):
        return range(self.min_points, self.max_train_points + 1)

    @property
    def test_lengths(self):
        return range(self.max_train_points + 1, self.max_test_points + 1)
