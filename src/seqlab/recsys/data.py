"""MovieLens-100K, read from the RecBole wheel, and the leave-one-out next-item split.

Data: the ``recbole`` 1.2.1 wheel ships ``recbole/dataset_example/ml-100k/ml-100k.inter`` (user, item,
rating, timestamp; 100,000 ratings by 943 users of 1,682 films) and ``ml-100k.item`` (title, release
year, genres). seqlab never installs recbole: it reads the two files straight out of the wheel zip.
The wheel is looked up at ``$SEQLAB_RECBOLE_WHEEL``, then in ``<seqlab cache>/recbole/``; when it is
absent the error gives the exact ``pip download`` command. MovieLens' licence forbids
redistribution, so no copy of the data lives in this repository.

Split (the protocol of SASRec, arXiv 1808.09781, and RecBole's ``LS`` split): every user's
interactions sorted by ``(timestamp, item)``; the last item is the test target, the one before it
the validation target, the rest is training history. Evaluation ranks the target against *all*
items (full ranking); items already in the user's history are excluded from the ranking (as
RecBole's full-sort evaluation does). Item ids are re-indexed to ``1..num_items``; 0 is padding.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

WHEEL = "recbole-1.2.1-py3-none-any.whl"
MEMBER = "recbole/dataset_example/ml-100k/ml-100k.{}"
PAD = 0


def wheel_dir() -> Path:
    from seqlab.lm.weights_cache import cache_root

    return cache_root() / "recbole"


def download_command() -> str:
    return f"python3 -m pip download recbole==1.2.1 --no-deps -d {wheel_dir()}"


def find_wheel() -> Path:
    """The recbole wheel: ``$SEQLAB_RECBOLE_WHEEL`` or ``<seqlab cache>/recbole/<wheel>``."""
    env = os.environ.get("SEQLAB_RECBOLE_WHEEL")
    candidates = [Path(env)] if env else []
    candidates.append(wheel_dir() / WHEEL)
    for path in candidates:
        if path.is_file():
            return path
    where = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"MovieLens-100K is read from the recbole 1.2.1 wheel, not found at {where}. Get it with:\n"
        f"    {download_command()}\n(or set SEQLAB_RECBOLE_WHEEL to the wheel's path)"
    )


@dataclass
class Interactions:
    """A catalogue of ``num_items`` items and each user's item sequence in time order.

    ``sequences[u]``: LongTensor of item ids in ``1..num_items`` (0 is padding);
    ``times[u]``: the matching timestamps; ``item_text[i - 1]``: item ``i``'s text (may be empty).
    """

    num_items: int
    sequences: list[torch.Tensor]
    times: list[torch.Tensor]
    item_text: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)

    @property
    def num_users(self) -> int:
        return len(self.sequences)

    @classmethod
    def from_triples(cls, users, items, times, num_items: int, item_text=None) -> Interactions:
        """From parallel lists (user, item in ``1..num_items``, time); sorted per user by (time, item)."""
        if not (len(users) == len(items) == len(times)):
            raise ValueError(
                f"users, items and times must have one entry per interaction, got lengths "
                f"{len(users)}, {len(items)}, {len(times)}"
            )
        if not isinstance(num_items, int) or num_items < 1:
            raise ValueError(f"num_items must be an int >= 1, got {num_items!r}")
        per_user: dict = {}
        for u, i, t in zip(users, items, times, strict=True):
            if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= num_items:
                raise ValueError(f"item id {i!r} (user {u!r}) is outside the catalogue 1..{num_items}")
            per_user.setdefault(u, []).append((float(t), i))
        if not per_user:
            raise ValueError("no interactions: every user needs a history")
        seqs, ts, uids = [], [], []
        for u, rows in per_user.items():
            rows.sort()
            uids.append(str(u))
            seqs.append(torch.tensor([i for _, i in rows], dtype=torch.long))
            ts.append(torch.tensor([t for t, _ in rows], dtype=torch.float64))
        text = list(item_text) if item_text is not None else [""] * num_items
        if len(text) != num_items:
            raise ValueError(f"item_text needs one entry per item ({num_items}), got {len(text)}")
        return cls(num_items, seqs, ts, text, uids, [str(i) for i in range(1, num_items + 1)])


def _read(z: zipfile.ZipFile, ext: str) -> list[list[str]]:
    lines = z.read(MEMBER.format(ext)).decode("latin-1").splitlines()
    return [line.split("\t") for line in lines[1:] if line.strip()]


def load_ml100k(wheel: str | os.PathLike | None = None) -> Interactions:
    """MovieLens-100K from the recbole wheel; item text = "title (year); genres: g1, g2"."""
    path = Path(wheel) if wheel is not None else find_wheel()
    try:
        with zipfile.ZipFile(path) as z:
            items, inter = _read(z, "item"), _read(z, "inter")
    except (zipfile.BadZipFile, KeyError) as err:
        raise ValueError(f"{path} is not a recbole wheel holding {MEMBER.format('inter')}: {err}") from err
    raw_ids = [row[0] for row in items]
    index = {raw: k + 1 for k, raw in enumerate(raw_ids)}
    text = []
    for row in items:
        title, year, genres = (row + ["", "", ""])[1:4]
        text.append(f"{title} ({year}); genres: {', '.join(genres.split())}")
    users, its, times = [], [], []
    for row in inter:
        if row[1] not in index:
            raise ValueError(f"interaction with item {row[1]!r} that the item file does not list")
        users.append(row[0])
        its.append(index[row[1]])
        times.append(float(row[3]))
    data = Interactions.from_triples(users, its, times, len(raw_ids), text)
    data.item_ids = raw_ids
    return data


@dataclass
class Split:
    """Leave-one-out: ``train[u]`` (history for training), ``valid[u]`` and ``test[u]`` targets.

    At test time a user's history is ``train[u] + [valid[u]]`` (:meth:`history`). The timestamps of
    the same items, when known (``train_times``, ``valid_times``, ``test_times``), are given by
    :meth:`history_times` and :meth:`target_times`.
    """

    num_items: int
    train: list[torch.Tensor]
    valid: torch.Tensor
    test: torch.Tensor
    item_text: list[str]
    train_times: list[torch.Tensor] | None = None
    valid_times: torch.Tensor | None = None
    test_times: torch.Tensor | None = None

    @property
    def num_users(self) -> int:
        return len(self.train)

    def history(self, stage: str = "test") -> list[torch.Tensor]:
        if stage == "test":
            return [torch.cat([t, v.view(1)]) for t, v in zip(self.train, self.valid, strict=True)]
        if stage == "valid":
            return list(self.train)
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")

    def history_times(self, stage: str = "test") -> list[torch.Tensor]:
        """Timestamps matching :meth:`history` (a ``ValueError`` when the split has none)."""
        if self.train_times is None:
            raise ValueError("this split has no timestamps (build it with leave_one_out from Interactions)")
        if stage == "test":
            return [
                torch.cat([t, v.view(1)]) for t, v in zip(self.train_times, self.valid_times, strict=True)
            ]
        if stage == "valid":
            return list(self.train_times)
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")

    def target_times(self, stage: str = "test") -> torch.Tensor:
        """Timestamps of :meth:`targets`."""
        self.history_times(stage)  # validates
        return self.test_times if stage == "test" else self.valid_times

    def subset(self, users) -> Split:
        """The split restricted to the users at the given indices (same catalogue)."""
        idx = [int(u) for u in users]
        if not idx:
            raise ValueError("subset needs at least one user")
        bad = [u for u in idx if not 0 <= u < self.num_users]
        if bad:
            raise ValueError(f"user indices must lie in 0..{self.num_users - 1}, got {bad[:5]}")
        pick = torch.tensor(idx)
        timed = self.train_times is not None
        return Split(
            self.num_items,
            [self.train[u] for u in idx],
            self.valid[pick],
            self.test[pick],
            self.item_text,
            [self.train_times[u] for u in idx] if timed else None,
            self.valid_times[pick] if timed else None,
            self.test_times[pick] if timed else None,
        )

    def targets(self, stage: str = "test") -> torch.Tensor:
        if stage not in ("valid", "test"):
            raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")
        return self.test if stage == "test" else self.valid

    def train_counts(self) -> torch.Tensor:
        """Interactions per item id in the training histories, ``(num_items + 1,)`` (index 0 = pad)."""
        return torch.bincount(torch.cat(self.train), minlength=self.num_items + 1)


def leave_one_out(data: Interactions, min_history: int = 1) -> Split:
    """The last item of each user for test, the one before for validation, the rest for training.

    Every user needs ``min_history + 2`` interactions; one with fewer is a ``ValueError`` naming it
    (it would have no history to predict from).
    """
    if not isinstance(min_history, int) or min_history < 1:
        raise ValueError(f"min_history must be an int >= 1, got {min_history!r}")
    train, valid, test, train_t, valid_t, test_t = [], [], [], [], [], []
    for u, (seq, ts) in enumerate(zip(data.sequences, data.times, strict=True)):
        if seq.numel() < min_history + 2:
            name = data.user_ids[u] if u < len(data.user_ids) else u
            raise ValueError(
                f"user {name} has {seq.numel()} interactions; leave-one-out needs >= {min_history + 2} "
                f"(history of {min_history}, a validation and a test item)"
            )
        train.append(seq[:-2])
        valid.append(int(seq[-2]))
        test.append(int(seq[-1]))
        train_t.append(ts[:-2])
        valid_t.append(float(ts[-2]))
        test_t.append(float(ts[-1]))
    return Split(
        data.num_items,
        train,
        torch.tensor(valid),
        torch.tensor(test),
        list(data.item_text),
        train_t,
        torch.tensor(valid_t, dtype=torch.float64),
        torch.tensor(test_t, dtype=torch.float64),
    )


def cold_item_split(split: Split, fraction: float, seed: int = 0) -> tuple[Split, torch.Tensor]:
    """Hold out a random ``fraction`` of the catalogue as *cold* items: every interaction with them is
    removed from the training histories (they are never seen in training); the validation and test
    targets and the test-time histories are unchanged. Returns the new split and the boolean mask
    ``cold`` of shape ``(num_items + 1,)``. A user left with no training item keeps none (the model
    must cope with an empty training history; evaluation histories still hold the validation item).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
    g = torch.Generator().manual_seed(seed)
    n = split.num_items
    pick = torch.randperm(n, generator=g)[: max(1, round(fraction * n))] + 1
    cold = torch.zeros(n + 1, dtype=torch.bool)
    cold[pick] = True
    keep = [~cold[t] for t in split.train]
    train = [t[k] for t, k in zip(split.train, keep, strict=True)]
    times = None
    if split.train_times is not None:
        times = [t[k] for t, k in zip(split.train_times, keep, strict=True)]
    out = Split(
        n, train, split.valid, split.test, split.item_text, times, split.valid_times, split.test_times
    )
    return out, cold
