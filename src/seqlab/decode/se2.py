"""Se^2: sequential selection of in-context examples by beam search scored by the LM.

"Se^2: Sequential Example Selection for In-Context Learning" (Liu et al.; arXiv 2402.13874).

In-context learning puts ``k`` labelled demonstrations ``e_1 .. e_k`` before a query ``x``; Se^2 treats
picking them as a *sequence* problem: demonstration ``e_j`` is chosen given ``e_1 .. e_{j-1}``, each
partial sequence scored by the LM's feedback -- the probability it gives the gold label ``y`` of a
query once those demonstrations precede it -- and beam search keeps the ``B`` best partial sequences
at each step::

    score(e_1 .. e_j) = mean_{(x, y) in D} log p_LM(y | e_1 .. e_j, x)          (label set only)
    beams_j = top-B { beam + (c,) : beam in beams_{j-1}, c in pool \\ beam }  by score

``p_LM(y | ...)`` is the LM's next-token distribution at the end of the prompt renormalised over the
label words (:meth:`ICLTask.label_log_probs`). The paper runs this search with the LM on training
queries to build training data for a retriever, then runs the same beam search at test time with the
retriever's scores. Here the LM feedback itself drives the search on a small labelled *development*
set drawn from the training split (no retriever is trained), and the best sequence found is used as
the demonstrations of every test query. :func:`beam_select` is the search over any ``score`` function
(tested against exhaustive search); :func:`se2_select` plugs in the LM feedback.

Baselines (:func:`random_demos`, :func:`nearest_demos`): ``k`` demonstrations drawn uniformly from the
pool for each query, and the ``k`` pool sentences whose sentence embeddings (e.g. MiniLM, mean pooled)
have the highest cosine similarity with the query, the most similar placed last (next to the query).
The experiment ``decode.se2`` (:func:`se2_experiment`) compares them on the 200 labelled movie-review
sentences of gensim's test data with SmolLM2 as the scoring and the answering LM.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from seqlab.registry import Paper, experiment, register

PAPER = Paper("Se^2: Sequential Example Selection for In-Context Learning", "2402.13874")


# -- data ------------------------------------------------------------------------------------------
def load_polarity(path: str | Path | None = None) -> list[tuple[str, int]]:
    """The labelled movie-review sentences of gensim's ``pang_lee_polarity.cor``: ``(text, label)``,
    label 0 = negative, 1 = positive (``__label__neg`` / ``__label__pos`` prefixes)."""
    if path is None:
        from seqlab.tasks.text import gensim_data_dir

        path = Path(gensim_data_dir()) / "pang_lee_polarity.cor"
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        head, _, text = line.partition(" ")
        if head not in ("__label__neg", "__label__pos") or not text.strip():
            raise ValueError(
                f"{path}:{n}: expected '__label__neg|__label__pos <sentence>', got {line[:40]!r}"
            )
        out.append((text.strip(), int(head == "__label__pos")))
    return out


# -- prompts and LM feedback ----------------------------------------------------------------------
@dataclass(frozen=True)
class ICLTask:
    """How demonstrations and queries become a prompt, and which words are the labels.

    A demonstration is ``"Review: <text>\\nSentiment: <label word>\\n\\n"``; the query ends after
    ``"Sentiment:"`` and the answer is the label whose word the LM finds most probable next. Each label
    word must be a single token of the LM. ``max_words`` truncates every sentence (prompt length).
    """

    label_words: tuple[str, ...] = (" negative", " positive")
    max_words: int = 16

    def _text(self, text: str) -> str:
        return " ".join(text.split()[: self.max_words])

    def demo(self, text: str, label: int) -> str:
        return f"Review: {self._text(text)}\nSentiment:{self.label_words[label]}\n\n"

    def prompt(self, demos: Sequence[tuple[str, int]], query: str) -> str:
        return "".join(self.demo(t, y) for t, y in demos) + f"Review: {self._text(query)}\nSentiment:"

    def label_ids(self, lm) -> list[int]:
        ids = []
        for w in self.label_words:
            enc = lm.encode([w]).ids
            if enc.shape[1] != 1:
                raise ValueError(f"label word {w!r} must be one token of the LM, got {enc.shape[1]} tokens")
            ids.append(int(enc[0, 0]))
        return ids

    @torch.no_grad()
    def label_log_probs(self, lm, prompts: Sequence[str], batch_size: int = 16) -> torch.Tensor:
        """``(N, C)``: log-probabilities of the ``C`` label words after each prompt, renormalised."""
        if not getattr(lm, "is_causal", False):
            raise ValueError("Se^2 needs a causal LM (prefill / next-token logits), got an encoder")
        if len(prompts) == 0:
            return torch.zeros(0, len(self.label_words))
        label = torch.tensor(self.label_ids(lm))
        rows = []
        for i in range(0, len(prompts), batch_size):
            enc = lm.encode(list(prompts[i : i + batch_size]))
            logits, _ = lm.prefill(enc.ids, enc.mask)
            rows.append(torch.log_softmax(logits.float()[:, label], dim=-1))
        return torch.cat(rows)


# -- the search ------------------------------------------------------------------------------------
Score = Callable[[list[tuple[int, ...]]], Sequence[float]]


def beam_select(score: Score, n_pool: int, k: int, beam_size: int) -> list[tuple[tuple[int, ...], float]]:
    """Beam search over ordered sequences of ``k`` distinct pool indices.

    ``score(seqs)`` returns one number per partial sequence (higher is better); at step ``j`` every beam
    is extended by every unused index and the ``beam_size`` best extensions are kept (ties broken by
    the order the candidates were made: beam order, then index). Returns the final beams, best first,
    as ``(sequence, score)``.
    """
    for name, v, low in (("n_pool", n_pool, 1), ("k", k, 1), ("beam_size", beam_size, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"beam_select needs {name} an int >= {low}, got {v!r}")
    if k > n_pool:
        raise ValueError(f"cannot select k={k} distinct examples from a pool of {n_pool}")
    beams: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    for _ in range(k):
        cands = [b + (c,) for b, _ in beams for c in range(n_pool) if c not in b]
        scores = [float(s) for s in score(cands)]
        if len(scores) != len(cands):
            raise ValueError(f"score returned {len(scores)} values for {len(cands)} sequences")
        order = sorted(range(len(cands)), key=lambda i: -scores[i])  # stable: ties keep creation order
        beams = [(cands[i], scores[i]) for i in order[:beam_size]]
    return beams


@register(
    "decoder",
    "se2",
    implements=PAPER,
    description="Se^2: in-context examples chosen by LM-scored beam search",
)
def se2_select(
    lm,
    pool: Sequence[tuple[str, int]],
    dev: Sequence[tuple[str, int]],
    k: int = 2,
    beam_size: int = 2,
    task: ICLTask | None = None,
    batch_size: int = 16,
) -> list[tuple[tuple[int, ...], float]]:
    """Se^2 with the LM's feedback: beams of ``k`` pool indices, best first, scored on ``dev``.

    A partial sequence's score is the mean over ``dev`` of ``log p_LM(gold label | demos, query)``.
    """
    task = task or ICLTask()
    if not dev:
        raise ValueError("Se^2 needs a non-empty development set of labelled queries to score with")

    def score(seqs):
        prompts = [task.prompt([pool[i] for i in s], x) for s in seqs for x, _ in dev]
        lp = task.label_log_probs(lm, prompts, batch_size).view(len(seqs), len(dev), -1)
        gold = torch.tensor([y for _, y in dev])
        return lp[:, torch.arange(len(dev)), gold].mean(1).tolist()

    return beam_select(score, len(pool), k, beam_size)


def random_demos(n_pool: int, k: int, n_queries: int, rng: random.Random) -> list[tuple[int, ...]]:
    """``k`` distinct pool indices drawn uniformly for each query (the random-selection baseline)."""
    return [tuple(rng.sample(range(n_pool), k)) for _ in range(n_queries)]


def nearest_demos(pool_emb: torch.Tensor, query_emb: torch.Tensor, k: int) -> list[tuple[int, ...]]:
    """The ``k`` pool rows of highest cosine similarity to each query, most similar last."""
    if pool_emb.dim() != 2 or query_emb.dim() != 2 or pool_emb.shape[1] != query_emb.shape[1]:
        raise ValueError(
            f"nearest_demos expects (pool, d) and (queries, d) embeddings, got {tuple(pool_emb.shape)} "
            f"and {tuple(query_emb.shape)}"
        )
    if not 1 <= k <= pool_emb.shape[0]:
        raise ValueError(f"nearest_demos needs 1 <= k <= {pool_emb.shape[0]}, got {k}")
    sim = torch.nn.functional.normalize(query_emb, dim=1) @ torch.nn.functional.normalize(pool_emb, dim=1).T
    top = sim.topk(k, dim=1).indices  # most similar first
    return [tuple(reversed(row)) for row in top.tolist()]


def sentence_embeddings(encoder, texts: Sequence[str]) -> torch.Tensor:
    """Mean-pooled last hidden states of an encoder LM (e.g. MiniLM) over the non-padding tokens."""
    with torch.no_grad():
        enc = encoder.encode(list(texts))
        h = encoder.hidden_states(enc.ids, enc.mask)[-1]
        m = enc.mask[..., None].to(h.dtype)
        return (h * m).sum(1) / m.sum(1)


def accuracy(task: ICLTask, lm, demos: Sequence[Sequence[tuple[str, int]]], queries, batch_size=16) -> float:
    """Accuracy of the LM's label-word argmax with ``demos[i]`` before query ``i``."""
    prompts = [task.prompt(d, x) for d, (x, _) in zip(demos, queries, strict=True)]
    pred = task.label_log_probs(lm, prompts, batch_size).argmax(1)
    gold = torch.tensor([y for _, y in queries])
    return float((pred == gold).float().mean())


# -- the experiment of the claim -------------------------------------------------------------------
SE2_DEFAULTS = dict(
    lm="smollm2-135m",
    encoder="minilm-l6",
    k=2,
    beam_size=2,
    n_pool=12,
    n_dev=4,
    n_test=40,
    max_words=12,
    retriever=False,  # also train Se^2's retriever on LM feedback (seqlab.decode.se2_retriever)
    n_train=8,  # its training queries (disjoint from pool, dev and test)
    retriever_steps=200,
)


@experiment("decode.se2")
def se2_experiment(params: dict, seed: int) -> dict:
    """Se^2 vs random and nearest-neighbour demonstrations on gensim's 200 movie-review sentences.

    The seed shuffles the sentences and splits them into a candidate pool, a development set (scored
    by Se^2's search) and the test queries, all disjoint and balanced only by chance. Returns the test
    accuracy of zero-shot, random (per query), nearest-neighbour (MiniLM, per query) and Se^2 (one
    sequence for all queries) prompts, the Se^2 beams and their development-set accuracy. With
    ``retriever``: also Se^2's retriever (:mod:`seqlab.decode.se2_retriever`) trained on the LM's
    feedback for ``n_train`` further queries, searching per test query (``acc_se2_retriever``).
    """
    import seqlab.lm

    p = {**SE2_DEFAULTS, **params}
    unknown = sorted(set(p) - set(SE2_DEFAULTS))
    if unknown:
        raise ValueError(f"decode.se2: unknown params {unknown}; expected some of {sorted(SE2_DEFAULTS)}")
    data = load_polarity()
    rng = random.Random(seed)
    rng.shuffle(data)
    n_pool, n_dev, n_test = p["n_pool"], p["n_dev"], p["n_test"]
    n_train = p["n_train"] if p["retriever"] else 0
    if n_pool + n_dev + n_test + n_train > len(data):
        raise ValueError(
            f"decode.se2: pool + dev + test + train = {n_pool + n_dev + n_test + n_train} > "
            f"{len(data)} sentences"
        )
    pool, dev = data[:n_pool], data[n_pool : n_pool + n_dev]
    test = data[n_pool + n_dev : n_pool + n_dev + n_test]
    task = ICLTask(max_words=p["max_words"])
    lm = seqlab.lm.load(p["lm"])
    k = p["k"]

    beams = se2_select(lm, pool, dev, k=k, beam_size=p["beam_size"], task=task)
    best = [pool[i] for i in beams[0][0]]
    encoder = seqlab.lm.load(p["encoder"])
    pool_feat = sentence_embeddings(encoder, [t for t, _ in pool])
    test_feat = sentence_embeddings(encoder, [t for t, _ in test])
    near = nearest_demos(pool_feat, test_feat, k)
    rand = random_demos(n_pool, k, n_test, rng)
    acc = {
        "zero_shot": accuracy(task, lm, [[]] * n_test, test),
        "random": accuracy(task, lm, [[pool[i] for i in s] for s in rand], test),
        "nearest": accuracy(task, lm, [[pool[i] for i in s] for s in near], test),
        "se2": accuracy(task, lm, [best] * n_test, test),
    }
    extra = {}
    if p["retriever"]:
        from seqlab.decode import se2_retriever as SR

        start = n_pool + n_dev + n_test
        train = data[start : start + n_train]
        fb = SR.collect_feedback(lm, pool, train, k, task=task)
        labels = torch.tensor([y for _, y in pool])
        model = SR.train_retriever(
            fb,
            sentence_embeddings(encoder, [t for t, _ in train]),
            pool_feat,
            labels,
            steps=p["retriever_steps"],
            seed=seed,
        )
        picks = SR.retrieve(model, test_feat, pool_feat, labels, k, beam_size=p["beam_size"])
        acc["se2_retriever"] = accuracy(task, lm, [[pool[i] for i in s] for s in picks], test)
        extra = {
            "gain_se2_retriever": acc["se2_retriever"] - acc["random"],
            "retriever_distinct_sequences": len(set(picks)),
            "feedback_lists": len(fb),
        }
    return {
        **extra,
        **{f"acc_{name}": v for name, v in acc.items()},
        "gain_se2": acc["se2"] - acc["random"],
        "gain_nearest": acc["nearest"] - acc["random"],
        "se2_dev_acc": accuracy(task, lm, [best] * n_dev, dev),
        "se2_beams": [[list(s), sc] for s, sc in beams],
        "test_positive_rate": sum(y for _, y in test) / n_test,
    }
