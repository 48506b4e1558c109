"""Offline text and evaluation sets for word embeddings, read from the installed gensim wheel.

gensim ships in ``gensim/test/test_data``: ``head500.noblanks.cor`` (the first 500 kB of text8-like
Wikipedia, Porter-stemmed, 331k tokens on 250 lines), ``lee_background.cor`` (the Lee news corpus,
~60k words), ``wordsim353.tsv`` and ``simlex999.txt`` (word pairs with human similarity scores) and
``questions-words.txt`` (Mikolov's analogy questions). gensim itself is not imported here: only its
files are read (install it with the ``[embed]`` extra).

Corpora are *re-iterable* objects streaming from disk (each ``iter`` re-opens the file), so training
for several epochs never holds the corpus in memory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from seqlab.tasks.text import gensim_data_dir

HEAD500 = "head500.noblanks.cor"
LEE = "lee_background.cor"
WORDSIM353 = "wordsim353.tsv"
SIMLEX999 = "simlex999.txt"
ANALOGIES = "questions-words.txt"


def data_path(name: str) -> str:
    """Path of ``name`` inside gensim's test data, with a clear error when gensim or the file is missing."""
    try:
        folder = gensim_data_dir()
    except ValueError as err:
        raise ValueError(
            f"seqlab.embed reads {name!r} from gensim's wheel, but gensim is not installed; "
            "install it with `pip install gensim` (seqlab's [embed] extra)"
        ) from err
    path = os.path.join(folder, name)
    if os.path.basename(name) != name or not os.path.isfile(path):
        raise FileNotFoundError(f"{name!r} is not in gensim's test data folder {folder}")
    return path


class LineCorpus:
    """Whitespace-tokenised lines of a file, split into chunks of at most ``max_len`` tokens (re-iterable).

    ``lower`` lower-cases; ``strip_punct`` removes characters that are not letters, digits, ``'`` or ``-``
    before splitting (for the raw Lee news text).
    """

    def __init__(self, path: str, max_len: int | None = None, lower: bool = False, strip_punct: bool = False):
        if max_len is not None and max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        self.path, self.max_len, self.lower, self.strip_punct = path, max_len, lower, strip_punct

    def __iter__(self):
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                if self.lower:
                    line = line.lower()
                if self.strip_punct:
                    line = re.sub(r"[^\w'\- ]+", " ", line)
                toks = line.split()
                if not toks:
                    continue
                if self.max_len is None:
                    yield toks
                else:
                    for i in range(0, len(toks), self.max_len):
                        yield toks[i : i + self.max_len]


def head500(max_len: int = 1000) -> LineCorpus:
    """``head500.noblanks.cor``: 331k Porter-stemmed tokens, as sentences of ``max_len`` tokens."""
    return LineCorpus(data_path(HEAD500), max_len=max_len)


def lee_background() -> LineCorpus:
    """``lee_background.cor``: 300 news documents, lower-cased, punctuation removed, one sentence each."""
    return LineCorpus(data_path(LEE), lower=True, strip_punct=True)


@dataclass(frozen=True)
class SimilarityPair:
    word1: str
    word2: str
    score: float


def _pairs(name: str) -> list[SimilarityPair]:
    out = []
    with open(data_path(name), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            a, b, s = line.rstrip("\n").split("\t")[:3]
            out.append(SimilarityPair(a, b, float(s)))
    return out


def wordsim353() -> list[SimilarityPair]:
    """The 353 WordSim pairs (scores 0-10)."""
    return _pairs(WORDSIM353)


def simlex999() -> list[SimilarityPair]:
    """The 999 SimLex pairs (scores 0-10)."""
    return _pairs(SIMLEX999)


def analogies() -> dict[str, list[tuple[str, str, str, str]]]:
    """Mikolov's analogy questions ``a b c d`` (``a : b :: c : d``) by section, lower-cased."""
    out: dict[str, list] = {}
    section = None
    with open(data_path(ANALOGIES), encoding="utf-8") as f:
        for line in f:
            if line.startswith(":"):
                section = line[1:].strip()
                out[section] = []
            elif line.strip():
                if section is None:
                    raise ValueError(f"{ANALOGIES}: a question before the first ': section' line")
                q = tuple(line.lower().split())
                if len(q) != 4:
                    raise ValueError(f"{ANALOGIES}: expected 4 words per question, got {line!r}")
                out[section].append(q)
    return out
