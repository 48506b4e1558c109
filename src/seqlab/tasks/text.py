"""Character-level language modelling on text that ships offline (the corpora inside gensim's wheel).

The next-token task of the length-generalization claim of "Understanding and Improving Length
Generalization in Recurrent Models" (Buitrago Ruiz and Gu, arXiv 2507.02782), whose state
interventions were studied on language modelling: the label of position ``t`` is the character
``c_{t+1}`` of the text, which does not depend on the model's initial state -- so training from
noise or from another sequence's final state keeps every label consistent (unlike streaming parity).

Data: ``corpus`` names a file of gensim's ``test/test_data`` (default ``lee_background.cor``, the
Lee news corpus: 300 documents, 360 kB of English), read without importing gensim. Text is
lower-cased, whitespace collapsed, and every character outside :data:`ALPHABET` mapped to one
unknown symbol. The first ``1 - test_fraction`` of the characters is the training text, the rest
the test text (documents are contiguous, so test windows come from unseen documents).

A batch is ``n`` windows of ``length + 1`` characters at uniformly drawn offsets: ``inputs`` the
first ``length``, ``targets`` the next character at each position (metric ``log_loss`` in nats;
divide by ``ln 2`` for bits per character). Training windows are ``min_train_length..train_length``
long (default ``train_length // 2`` up: the state never sees more than ``train_length`` steps);
the test lengths are ``train_length * f`` for ``f`` in ``test_factors`` (default 2, 4, 8).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from importlib.util import find_spec

import torch

from seqlab.registry import register
from seqlab.tasks.base import Task, check_ints, split_seed

LENGTH_GENERALIZATION = "Understanding and Improving Length Generalization in Recurrent Models"
ALPHABET = " abcdefghijklmnopqrstuvwxyz0123456789.,;:'\"!?-()$%&/"
UNKNOWN = len(ALPHABET)  # id of every other character


def gensim_data_dir() -> str:
    """Folder of the test corpora inside the installed gensim wheel (gensim is not imported)."""
    spec = find_spec("gensim")
    if spec is None or spec.origin is None:
        raise ValueError(
            "task text_lm reads a corpus shipped inside gensim's wheel; install it with "
            "`pip install gensim` (it is in seqlab's [data] extra)"
        )
    return os.path.join(os.path.dirname(spec.origin), "test", "test_data")


def encode(text: str) -> torch.Tensor:
    """Lower-case, collapse whitespace, map to ids in ``[0, len(ALPHABET)]`` (last = unknown)."""
    index = {c: i for i, c in enumerate(ALPHABET)}
    clean = " ".join(text.lower().split())
    return torch.tensor([index.get(c, UNKNOWN) for c in clean], dtype=torch.long)


@functools.lru_cache(maxsize=4)
def load_corpus(name: str) -> torch.Tensor:
    path = os.path.join(gensim_data_dir(), name)
    if os.path.basename(name) != name or not os.path.isfile(path):
        available = sorted(f for f in os.listdir(gensim_data_dir()) if f.endswith((".cor", ".txt")))
        raise ValueError(
            f"text_lm: corpus {name!r} is not a file of gensim's test data; e.g. {available[:8]}"
        )
    with open(path, encoding="utf-8", errors="replace") as f:
        return encode(f.read())


@register(
    "task",
    "text_lm",
    used_by=[LENGTH_GENERALIZATION],
    description="character-level language modelling on gensim's shipped Lee corpus (train short, test 8x)",
    metric="log_loss",
)
@dataclass
class TextLM(Task):
    """Next-character prediction on windows of a shipped English corpus."""

    corpus: str = "lee_background.cor"
    train_length: int = 64
    min_train_length: int | None = None
    test_factors: tuple = (2, 4, 8)
    test_fraction: float = 0.1
    vocab_size: int = field(default=len(ALPHABET) + 1, init=False)
    n_outputs: int = field(default=len(ALPHABET) + 1, init=False)
    output: str = field(default="classes", init=False)
    metric: str = field(default="log_loss", init=False)

    def __post_init__(self):
        check_ints("text_lm", train_length=self.train_length)
        lo = max(self.train_length // 2, 1) if self.min_train_length is None else self.min_train_length
        check_ints("text_lm", min_train_length=lo)
        if lo > self.train_length:
            raise ValueError(f"text_lm: min_train_length {lo} exceeds train_length {self.train_length}")
        self.min_train_length = lo
        factors = tuple(self.test_factors)
        if not factors or any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in factors):
            raise ValueError(f"text_lm: test_factors must be positive ints, got {self.test_factors!r}")
        self.test_factors = factors
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"text_lm: test_fraction must lie in (0, 1), got {self.test_fraction!r}")
        data = load_corpus(self.corpus)
        cut = int(len(data) * (1.0 - self.test_fraction))
        self._splits = {"train": data[:cut], "test": data[cut:]}
        self.train_lengths = list(range(lo, self.train_length + 1))
        self.test_lengths = sorted({self.train_length * f for f in factors})
        longest = max(self.test_lengths + self.train_lengths) + 1
        short = [k for k, v in self._splits.items() if len(v) <= longest]
        if short:
            raise ValueError(
                f"text_lm: the {short[0]} text of {self.corpus!r} ({len(self._splits[short[0]])} characters) "
                f"is shorter than the longest window ({longest}); lower train_length or test_factors"
            )

    def sample(self, n: int, *, seed: int, split: str = "train", length: int | None = None):
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        g = torch.Generator().manual_seed(split_seed(seed, split))
        length = self.pick_length(length, g)
        text = self._splits[split]
        starts = torch.randint(0, len(text) - length, (n,), generator=g)
        windows = text[starts[:, None] + torch.arange(length + 1)]
        return {
            "inputs": windows[:, :-1],
            "targets": windows[:, 1:],
            "mask": torch.ones(n, length, dtype=torch.bool),
        }

    def generate(self, n, length, generator):
        raise ValueError("text_lm draws windows per split; call sample(n, seed=..., split=...)")
