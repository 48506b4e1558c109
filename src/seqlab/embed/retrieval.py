"""Retrieval in continuous space against a discrete BM25 baseline, with MAP and recall@k.

"End-to-End Retrieval in Continuous Space" (Gillick, Presta and Tomar, arXiv 1811.08008): index
every passage by a learned embedding and retrieve by nearest-neighbour search (an ANN index in
place of the inverted index), with a dual encoder trained for retrieval: queries and passages are
encoded independently, ``s(q, p) = cos(f(q), f(p))``, and trained with a softmax over the other
passages of the batch as negatives, ``L = -log exp(s(q_i, p_i)/tau) / sum_j exp(s(q_i, p_j)/tau)``.
:class:`DualEncoder` is such a model: averaged word embeddings followed by a linear map (the
paper's simplest architecture), trained on pairs built from text.

The discrete baseline is Okapi BM25 over an inverted index (Robertson et al.):

    score(q, d) = sum_{t in q} idf(t) * tf(t, d) (k1 + 1) / (tf(t, d) + k1 (1 - b + b |d| / avgdl))
    idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))

Metrics over a ranking ``d_1, d_2, ...`` with relevant set ``R``: average precision
``AP = (1/|R|) sum_{k: d_k in R} precision@k`` (MAP is its mean over queries) and
``recall@k = |R intersect {d_1..d_k}| / |R|``.

Indexes: :class:`ExactIndex` (brute-force inner product, the reference) and :class:`FaissIndex`
(``faiss-cpu``, optional extra ``[ann]``: a flat index, equal to the exact one, or HNSW).

The retrieval set (:func:`lee_halves`): each document of the Lee background corpus is split into
its first and second halves of sentences; the first half is the query, the second half the one
relevant passage; the documents are split into training and test documents by seed.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass

import torch

from seqlab.embed.docsim import lee_background, sentences, words
from seqlab.registry import Paper, register

RETRIEVAL_PAPER = Paper("End-to-End Retrieval in Continuous Space", "1811.08008")
BM25_PAPER = Paper("Okapi at TREC-3", venue="TREC 1994")


# -- metrics --------------------------------------------------------------------------------------------
def average_precision(ranking, relevant) -> float:
    """``(1/|R|) sum_{k: d_k in R} precision@k`` over the given ranking."""
    rel = set(relevant)
    if not rel:
        raise ValueError("average precision needs at least one relevant item")
    hits, total = 0, 0.0
    for k, d in enumerate(ranking, start=1):
        if d in rel:
            hits += 1
            total += hits / k
    return total / len(rel)


def recall_at_k(ranking, relevant, k: int) -> float:
    rel = set(relevant)
    if not rel or k < 1:
        raise ValueError(f"recall@k needs relevant items and k >= 1, got {len(rel)} items, k={k}")
    return len(rel.intersection(list(ranking)[:k])) / len(rel)


def evaluate_rankings(rankings, relevants, ks=(1, 5, 10)) -> dict[str, float]:
    """MAP and mean recall@k over queries."""
    if len(rankings) != len(relevants) or not rankings:
        raise ValueError("evaluate_rankings expects one ranking per query and at least one query")
    out = {"map": sum(average_precision(r, g) for r, g in zip(rankings, relevants)) / len(rankings)}
    for k in ks:
        out[f"recall@{k}"] = sum(recall_at_k(r, g, k) for r, g in zip(rankings, relevants)) / len(rankings)
    return out


# -- BM25 -----------------------------------------------------------------------------------------------
@register("embedder", "bm25", implements=BM25_PAPER, used_by=[RETRIEVAL_PAPER.title])
class BM25:
    """Okapi BM25 over an inverted index of token lists (the discrete retrieval baseline)."""

    def __init__(self, k1: float = 1.2, b: float = 0.75):
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b = k1, b
        self.postings: dict[str, list[tuple[int, int]]] = {}

    def fit(self, docs: list[list[str]]) -> BM25:
        if not docs or not all(isinstance(d, (list, tuple)) for d in docs):
            raise ValueError("BM25.fit expects a non-empty list of token lists")
        self.n_docs = len(docs)
        self.lengths = [len(d) for d in docs]
        self.avgdl = sum(self.lengths) / self.n_docs
        if self.avgdl == 0:
            raise ValueError("BM25.fit got only empty documents")
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, d in enumerate(docs):
            for t, tf in Counter(d).items():
                postings[t].append((i, tf))
        self.postings = dict(postings)
        return self

    def idf(self, term: str) -> float:
        n = len(self.postings.get(term, ()))
        return math.log(1.0 + (self.n_docs - n + 0.5) / (n + 0.5))

    def scores(self, query: list[str]) -> torch.Tensor:
        """BM25 score of every document, accumulated over the query terms' postings."""
        if not self.postings:
            raise ValueError("BM25 is not fitted: call fit(docs) first")
        out = [0.0] * self.n_docs
        for t in query:  # a repeated query term counts each time, as in the sum over q
            idf = self.idf(t)
            for i, tf in self.postings.get(t, ()):
                norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avgdl)
                out[i] += idf * tf * (self.k1 + 1) / (tf + norm)
        return torch.tensor(out, dtype=torch.float64)

    def search(self, query: list[str], k: int | None = None) -> list[int]:
        s = self.scores(query)
        k = self.n_docs if k is None else min(k, self.n_docs)
        return torch.topk(s, k).indices.tolist()


# -- vector indexes -------------------------------------------------------------------------------------
def _check_vectors(x, name: str, dim: int | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] == 0:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} expects vectors of shape (n >= 1, dim), got {got}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} expects vectors of dim {dim}, got {x.shape[1]}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} got NaN or inf vectors")
    return x.float()


class ExactIndex:
    """Brute-force maximum inner product search (cosine when ``normalize``)."""

    def __init__(self, vectors: torch.Tensor, normalize: bool = True):
        v = _check_vectors(vectors, "ExactIndex")
        self.normalize = normalize
        self.vectors = torch.nn.functional.normalize(v, dim=1) if normalize else v

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        q = _check_vectors(queries, "search", self.vectors.shape[1])
        if self.normalize:
            q = torch.nn.functional.normalize(q, dim=1)
        s = q @ self.vectors.T
        top = torch.topk(s, min(k, self.vectors.shape[0]), dim=1)
        return top.values, top.indices


class FaissIndex:
    """A ``faiss`` index over the same vectors: "flat" (exact inner product) or "hnsw" (approximate)."""

    def __init__(self, vectors: torch.Tensor, kind: str = "flat", normalize: bool = True, hnsw_m: int = 16):
        try:
            import faiss
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                "FaissIndex needs faiss-cpu: pip install 'seqlab[ann]' (or use ExactIndex)", name="faiss"
            ) from err
        if kind not in ("flat", "hnsw"):
            raise ValueError(f"FaissIndex kind must be 'flat' or 'hnsw', got {kind!r}")
        v = _check_vectors(vectors, "FaissIndex")
        self.normalize, self.dim = normalize, v.shape[1]
        if normalize:
            v = torch.nn.functional.normalize(v, dim=1)
        if kind == "flat":
            self.index = faiss.IndexFlatIP(self.dim)
        else:
            self.index = faiss.IndexHNSWFlat(self.dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efSearch = 64
        self.index.add(v.contiguous().numpy())

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        q = _check_vectors(queries, "search", self.dim)
        if self.normalize:
            q = torch.nn.functional.normalize(q, dim=1)
        s, i = self.index.search(q.contiguous().numpy(), int(k))
        return torch.from_numpy(s), torch.from_numpy(i).long()


def make_index(vectors: torch.Tensor, backend: str = "exact", **kw):
    """``"exact"`` (:class:`ExactIndex`), ``"faiss"`` (flat) or ``"faiss-hnsw"``."""
    if backend == "exact":
        return ExactIndex(vectors, **kw)
    if backend in ("faiss", "faiss-hnsw"):
        return FaissIndex(vectors, "hnsw" if backend == "faiss-hnsw" else "flat", **kw)
    raise ValueError(f"index backend must be 'exact', 'faiss' or 'faiss-hnsw', got {backend!r}")


# -- the retrieval set ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetrievalSet:
    train: list[tuple[str, str]]  # (query, passage) pairs of the training documents
    queries: list[str]  # test queries
    passages: list[str]  # test passages; query i's one relevant passage is passage i


def split_halves(doc: str) -> tuple[str, str] | None:
    """First and second halves (by sentences) of a document; None if it has < 2 sentences."""
    s = sentences(doc)
    if len(s) < 2:
        return None
    h = len(s) // 2
    return " ".join(s[:h]), " ".join(s[h:])


def lee_halves(seed: int = 0, n_test: int = 100) -> RetrievalSet:
    """Query = first half, passage = second half of each Lee background document (seeded split)."""
    docs = list(dict.fromkeys(lee_background()))  # the corpus repeats a few documents: keep one copy
    pairs = [p for p in (split_halves(d) for d in docs) if p is not None]
    pairs = list({q: (q, p) for q, p in pairs}.values())  # and a few first halves
    if not 0 < n_test < len(pairs):
        raise ValueError(f"n_test must be in 1..{len(pairs) - 1}, got {n_test}")
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    test = [pairs[i] for i in order[:n_test]]
    train = [pairs[i] for i in order[n_test:]]
    return RetrievalSet(train, [q for q, _ in test], [p for _, p in test])


# -- the learned dual encoder ---------------------------------------------------------------------------
@register("embedder", "dual_encoder", implements=RETRIEVAL_PAPER)
class DualEncoder(torch.nn.Module):
    """Averaged word embeddings + a linear map, trained with in-batch softmax for retrieval."""

    def __init__(
        self,
        dim: int = 64,
        min_count: int = 1,
        temperature: float = 0.05,
        epochs: int = 30,
        batch_size: int = 32,
        lr: float = 3e-3,
        chunk_sentences: int = 2,
        seed: int = 0,
    ):
        super().__init__()
        if dim < 1 or epochs < 1 or batch_size < 2 or temperature <= 0:
            raise ValueError("DualEncoder needs dim >= 1, epochs >= 1, batch_size >= 2, temperature > 0")
        self.dim, self.min_count, self.temperature = dim, min_count, temperature
        self.epochs, self.batch_size, self.lr, self.seed = epochs, batch_size, lr, seed
        self.chunk_sentences = chunk_sentences
        self.vocab: dict[str, int] = {}

    def _ids(self, text: str) -> list[int]:
        return [self.vocab[w] for w in words(text) if w in self.vocab]

    def _bag(self, texts: list[str]):
        ids, offsets = [], []
        for t in texts:
            offsets.append(len(ids))
            ids.extend(self._ids(t) or [0])  # 0 = unknown: a text with no known word
        return torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)

    def forward(self, texts: list[str]) -> torch.Tensor:
        ids, offsets = self._bag(texts)
        return torch.nn.functional.normalize(self.proj(self.emb(ids, offsets)), dim=-1)

    def training_pairs(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The given (query, passage) pairs plus, within each, pairs of neighbouring sentence chunks."""
        out = list(pairs)
        c = self.chunk_sentences
        for q, p in pairs:
            s = sentences(q) + sentences(p)
            chunks = [" ".join(s[i : i + c]) for i in range(0, len(s), c)]
            out += [(a, b) for a, b in zip(chunks, chunks[1:])]
        return out

    def fit(self, pairs: list[tuple[str, str]]) -> DualEncoder:
        if len(pairs) < 2:
            raise ValueError(f"DualEncoder.fit needs at least 2 (query, passage) pairs, got {len(pairs)}")
        counts = Counter(w for q, p in pairs for w in words(q) + words(p))
        kept = sorted(w for w, c in counts.items() if c >= self.min_count)
        if not kept:
            raise ValueError(f"min_count {self.min_count} leaves no vocabulary")
        self.vocab = {w: i + 1 for i, w in enumerate(kept)}
        g = torch.Generator().manual_seed(self.seed)
        self.emb = torch.nn.EmbeddingBag(len(self.vocab) + 1, self.dim, mode="mean")
        self.proj = torch.nn.Linear(self.dim, self.dim)
        with torch.no_grad():
            self.emb.weight.normal_(0, 0.1, generator=g)
            self.proj.weight.copy_(torch.eye(self.dim) + 0.01 * torch.randn(self.dim, self.dim, generator=g))
            self.proj.bias.zero_()
        data = self.training_pairs(pairs)
        opt = torch.optim.Adam(self.parameters(), lr=self.lr)
        rng = random.Random(self.seed)
        for _ in range(self.epochs):
            rng.shuffle(data)
            for s in range(0, len(data) - 1, self.batch_size):
                batch = data[s : s + self.batch_size]
                if len(batch) < 2:
                    continue
                q, p = self([a for a, _ in batch]), self([b for _, b in batch])
                logits = q @ p.T / self.temperature
                target = torch.arange(len(batch))
                loss = 0.5 * (
                    torch.nn.functional.cross_entropy(logits, target)
                    + torch.nn.functional.cross_entropy(logits.T, target)
                )
                opt.zero_grad()
                loss.backward()
                opt.step()
        return self

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        if not self.vocab:
            raise ValueError("DualEncoder is not fitted: call fit(pairs) first")
        if isinstance(texts, str) or not texts:
            raise ValueError("encode expects a non-empty list of strings")
        return self(list(texts))


def rank_dense(
    query_vecs: torch.Tensor, passage_vecs: torch.Tensor, backend: str = "exact"
) -> list[list[int]]:
    """Full rankings of the passages for every query through an index."""
    index = make_index(passage_vecs, backend)
    _, ids = index.search(query_vecs, passage_vecs.shape[0])
    return ids.tolist()


def rank_bm25(queries: list[str], passages: list[str], **kw) -> list[list[int]]:
    bm = BM25(**kw).fit([words(p) for p in passages])
    return [bm.search(words(q)) for q in queries]
