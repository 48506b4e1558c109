"""The Lee document-similarity evaluation and the Lee text that the embed models train on.

Lee, Pincombe and Welsh, "An Empirical Evaluation of Models of Text Document Similarity" (CogSci
2005): 50 short news documents (``lee.cor``) and the mean of human similarity ratings for every
pair (``similarities0-1.txt``, a 50 x 50 matrix whose upper triangle holds the ratings in [0, 1]).
Both files ship inside gensim's wheel (``gensim/test/test_data``), read here without importing
gensim; the background corpus of 300 further Lee documents (``lee_background.cor``) is the
training text of DenoSent, Nugget and the retrieval set.

An embedding is scored by correlating the cosine similarity of every document pair ``i < j`` with
the human rating (1225 pairs): Pearson's ``r = cov(x, y) / (sd(x) sd(y))`` and Spearman's rho, the
Pearson correlation of the ranks (ties get their average rank).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

import torch

LEE_DOCS, LEE_RATINGS, LEE_BACKGROUND = "lee.cor", "similarities0-1.txt", "lee_background.cor"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def data_path(name: str) -> str:
    """Path of a file of gensim's ``test/test_data`` (gensim is not imported)."""
    from seqlab.tasks.text import gensim_data_dir

    path = os.path.join(gensim_data_dir(), name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name} is missing from gensim's test data at {gensim_data_dir()}")
    return path


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits, with an apostrophe suffix such as ``'s``)."""
    if not isinstance(text, str):
        raise ValueError(f"words() expects a string, got {type(text).__name__}")
    return _WORD.findall(text.lower())


def sentences(text: str) -> list[str]:
    """Split a document into sentences at ``.``, ``!`` or ``?`` followed by white space."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


@functools.lru_cache(maxsize=4)
def read_documents(name: str) -> tuple[str, ...]:
    """Non-empty lines of a gensim test corpus (one document per line)."""
    with open(data_path(name), encoding="utf-8", errors="replace") as f:
        return tuple(line.strip() for line in f if line.strip())


@dataclass(frozen=True)
class LeeSet:
    documents: tuple[str, ...]  # 50 documents
    ratings: torch.Tensor  # (50, 50) symmetric human similarity, 1 on the diagonal


@functools.lru_cache(maxsize=1)
def load_lee() -> LeeSet:
    """The 50 Lee documents and their symmetric 50 x 50 human similarity matrix."""
    docs = read_documents(LEE_DOCS)
    with open(data_path(LEE_RATINGS), encoding="utf-8") as f:
        rows = [[float(v) for v in line.split()] for line in f if line.strip()]
    m = torch.tensor(rows, dtype=torch.float64)
    if m.shape != (len(docs), len(docs)):
        raise ValueError(f"Lee ratings of shape {tuple(m.shape)} do not match {len(docs)} documents")
    upper = torch.triu(m, diagonal=1)
    return LeeSet(docs, upper + upper.T + torch.eye(len(docs), dtype=m.dtype))


def lee_background() -> tuple[str, ...]:
    """The 300 documents of the Lee background corpus (training text)."""
    return read_documents(LEE_BACKGROUND)


# -- correlations ------------------------------------------------------------------------------------
def _vec(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float64).flatten()
    if t.numel() < 2:
        raise ValueError(f"{name} needs at least 2 values, got {t.numel()}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} got NaN or inf values")
    return t


def pearson(x, y) -> float:
    """Pearson's correlation ``sum (x - mx)(y - my) / sqrt(sum (x - mx)^2 sum (y - my)^2)``."""
    x, y = _vec(x, "pearson"), _vec(y, "pearson")
    if x.shape != y.shape:
        raise ValueError(f"pearson expects two vectors of one length, got {x.numel()} and {y.numel()}")
    x, y = x - x.mean(), y - y.mean()
    den = float((x.square().sum() * y.square().sum()).sqrt())
    if den == 0.0:
        raise ValueError("pearson is undefined for a constant vector")
    return float((x * y).sum()) / den


def ranks(x) -> torch.Tensor:
    """1-based ranks with ties given their average rank."""
    x = _vec(x, "ranks")
    order = torch.argsort(x, stable=True)
    xs = x[order]
    r = torch.empty_like(x)
    i, n = 0, x.numel()
    while i < n:
        j = i
        while j + 1 < n and xs[j + 1] == xs[i]:
            j += 1
        r[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return r


def spearman(x, y) -> float:
    """Spearman's rho: Pearson's correlation of the (average-tie) ranks."""
    return pearson(ranks(x), ranks(y))


def cosine_matrix(emb: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every pair of rows, ``(N, N)``."""
    if not isinstance(emb, torch.Tensor) or emb.dim() != 2 or emb.shape[0] < 2:
        got = tuple(emb.shape) if isinstance(emb, torch.Tensor) else type(emb).__name__
        raise ValueError(f"expected embeddings of shape (documents >= 2, dim), got {got}")
    if not bool(torch.isfinite(emb).all()):
        raise ValueError("embeddings contain NaN or inf")
    e = emb.double()
    norms = e.norm(dim=1, keepdim=True)
    if bool((norms == 0).any()):
        raise ValueError("an embedding is the zero vector: its cosine similarity is undefined")
    e = e / norms
    return e @ e.T


def upper_pairs(m: torch.Tensor, index=None) -> torch.Tensor:
    """The entries ``i < j`` of a square matrix (restricted to rows/columns ``index`` when given)."""
    if index is not None:
        idx = torch.as_tensor(index, dtype=torch.long)
        m = m[idx][:, idx]
    iu = torch.triu_indices(m.shape[0], m.shape[1], offset=1)
    return m[iu[0], iu[1]]


def lee_correlation(emb: torch.Tensor, index=None) -> dict[str, float]:
    """Pearson and Spearman of the embeddings' cosine similarities with the Lee human ratings.

    ``emb`` has one row per Lee document (50), or one per document of ``index`` when a subset of
    the documents is scored (rows in the order of ``index``).
    """
    lee = load_lee()
    n = len(lee.documents) if index is None else len(index)
    if not isinstance(emb, torch.Tensor) or emb.dim() != 2 or emb.shape[0] != n:
        got = tuple(emb.shape) if isinstance(emb, torch.Tensor) else type(emb).__name__
        raise ValueError(f"expected one embedding per Lee document, shape ({n}, dim), got {got}")
    sims = upper_pairs(cosine_matrix(emb))
    human = upper_pairs(lee.ratings, index)
    return {"pearson": pearson(sims, human), "spearman": spearman(sims, human), "pairs": int(sims.numel())}
