"""word2vec: CBOW and skip-gram with negative sampling, trained by vectorised SGD in PyTorch.

Papers: "Efficient Estimation of Word Representations in Vector Space" (Mikolov, Chen, Corrado, Dean;
arXiv 1301.3781) -- the CBOW and continuous skip-gram architectures -- and "Distributed Representations
of Words and Phrases and their Compositionality" (Mikolov et al.; arXiv 1310.4546) -- negative sampling,
subsampling of frequent words, phrase detection (:mod:`seqlab.embed.vocab`) and hierarchical softmax
over a Huffman tree (``hs=1``, :mod:`seqlab.embed.huffman`; ``hs=1, negative=0`` is gensim's pure-HS
setting, both together add the two objectives as gensim does).

Objective (negative sampling, 1310.4546 eq. 4): for an input vector ``h`` and a target word ``o`` with
``k`` noise words ``n_i ~ P(w) ∝ count(w)^0.75``::

    log σ(u_o · h) + Σ_i log σ(-u_{n_i} · h)

Skip-gram: ``h = v_c`` for each context word ``c`` within a window of the target (the window size is
drawn uniformly from ``1..window`` per position, which weights near words more). CBOW: ``h`` is the
mean of the context vectors, and the gradient w.r.t. ``h`` is added to every context word (as the C
code and gensim do). Learning rate decays linearly from ``alpha`` to ``min_alpha`` over all epochs.

Training is vectorised: the corpus streams from disk in chunks of ``chunk_words`` tokens; in each chunk
the frequent words are subsampled, every (input, target) pair of the chunk is built with tensor ops,
shuffled, and trained in mini-batches of ``batch_size`` pairs -- gather the rows, one batched dot
product, sigmoid, and scatter the SGD updates with ``index_add_`` (gradients of a word repeated in a
batch add up, Hogwild-style, where the C code applies them one after another). With ``shared_negatives=g > 1``
each run of ``g`` pairs of a batch shares its noise words (still ``negative`` per pair, from the same
distribution): the noise scores become batched matrix products -- faster, but not the C code's sampling.

:class:`WordVectors` holds what every word embedder shares: ``key_to_index``, ``vectors``,
``similarity``, ``most_similar``, ``encode`` and save/load as safetensors + JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import torch

from seqlab.embed.huffman import HuffmanTree, hs_step
from seqlab.embed.vocab import Vocab, count_words, draw_negatives
from seqlab.registry import Paper, register

EFFICIENT = Paper("Efficient Estimation of Word Representations in Vector Space", "1301.3781")
DISTRIBUTED = Paper(
    "Distributed Representations of Words and Phrases and their Compositionality", "1310.4546"
)
FORMAT = "seqlab.embed/1"


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


@contextmanager
def torch_threads(n: int | None):
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _check_finite(name: str, t: torch.Tensor, hint: str = "") -> None:
    if not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).any(dim=-1).sum()) if t.dim() > 1 else 1
        raise ValueError(f"{name}: {bad} row(s) hold NaN or inf{hint}")


class WordVectors:
    """Word -> vector lookup shared by every embedder: ``key_to_index``, ``vectors`` (V, d), queries, I/O."""

    name = "words"
    index_to_key: list[str]
    key_to_index: dict[str, int]

    # -- state --------------------------------------------------------------------------------
    @property
    def vectors(self) -> torch.Tensor:
        self._require_fit()
        return self._vectors()

    def _vectors(self) -> torch.Tensor:  # overridden by each model
        raise NotImplementedError

    @property
    def vector_size(self) -> int:
        return self.vectors.shape[1]

    def _require_fit(self):
        if getattr(self, "key_to_index", None) is None:
            raise RuntimeError(f"{type(self).__name__} is not trained yet: call fit(sentences) or load(path)")

    def __contains__(self, word: str) -> bool:
        self._require_fit()
        return word in self.key_to_index

    def __len__(self) -> int:
        self._require_fit()
        return len(self.index_to_key)

    def get_vector(self, word: str) -> torch.Tensor:
        """The vector of ``word``; ``KeyError`` naming it when it is not in the vocabulary."""
        self._require_fit()
        if not isinstance(word, str):
            raise TypeError(f"expected a word (str), got {type(word).__name__}")
        i = self.key_to_index.get(word)
        if i is None:
            raise KeyError(f"word {word!r} is not in the vocabulary ({len(self.index_to_key)} words)")
        return self.vectors[i]

    __getitem__ = get_vector

    # -- queries ------------------------------------------------------------------------------
    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words' vectors."""
        a, b = self.get_vector(w1).double(), self.get_vector(w2).double()
        return float(a @ b / (a.norm() * b.norm()).clamp_min(1e-12))

    def most_similar(self, positive, topn: int = 10, negative=None) -> list[tuple[str, float]]:
        """The ``topn`` words closest in cosine to mean(unit(positive)) - mean... (gensim's 3CosAdd form).

        ``positive`` is a word or a list of words; ``negative`` words are subtracted. The query words
        themselves are excluded.
        """
        check_positive_int("topn", topn)
        pos = [positive] if isinstance(positive, str) else list(positive)
        neg = [negative] if isinstance(negative, str) else list(negative or [])
        if not pos and not neg:
            raise ValueError("most_similar needs at least one positive or negative word")
        unit = self._unit()
        q = torch.zeros(unit.shape[1], dtype=unit.dtype)
        for w in pos:
            q += self._unit_of(w, unit)
        for w in neg:
            q -= self._unit_of(w, unit)
        q = q / q.norm().clamp_min(1e-12)
        sims = unit @ q
        for w in pos + neg:
            if w in self.key_to_index:
                sims[self.key_to_index[w]] = float("-inf")
        k = min(topn, int(torch.isfinite(sims).sum()))
        vals, idx = sims.topk(k)
        return [(self.index_to_key[i], float(v)) for v, i in zip(vals.tolist(), idx.tolist())]

    def _unit(self) -> torch.Tensor:
        v = self.vectors.float()
        return v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def _unit_of(self, word, unit):
        v = self.get_vector(word).float()
        return v / v.norm().clamp_min(1e-12)

    def encode(self, items) -> torch.Tensor:
        """``(N, d)``: a word's vector for a str item; the mean of its known words' vectors for a token list.

        A token list with no known word raises ``KeyError`` naming its tokens.
        """
        self._require_fit()
        if isinstance(items, str):
            raise TypeError("encode takes a list of items (words or token lists), got a single str")
        rows = []
        for i, item in enumerate(items):
            if isinstance(item, str):
                rows.append(self.get_vector(item))
            elif isinstance(item, (list, tuple)):
                rows.append(self._encode_tokens(list(item), i))
            else:
                raise TypeError(f"item {i}: expected a word or a list of tokens, got {type(item).__name__}")
        if not rows:
            return torch.zeros(0, self.vector_size)
        return torch.stack(rows).float()

    def _encode_tokens(self, tokens: list[str], i: int) -> torch.Tensor:
        known = [self.key_to_index[t] for t in tokens if t in self.key_to_index]
        if not known:
            raise KeyError(f"item {i}: none of its tokens is in the vocabulary: {tokens[:10]!r}")
        return self.vectors[known].mean(0)

    # -- persistence ----------------------------------------------------------------------------
    def _config(self) -> dict:
        raise NotImplementedError

    def _tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _restore(self, config: dict, tensors: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError

    def _dims(self) -> dict[str, tuple]:
        """Expected tensor shapes from the configuration (checked at load)."""
        raise NotImplementedError

    def save(self, path) -> None:
        """Write ``path.safetensors`` (tensors) and ``path.json`` (config, vocabulary, checksum), atomically.

        Each file goes through a temporary name and ``os.replace``; the JSON (written last) holds the
        SHA-256 of the tensor file, so a half-written pair is detected at load.
        """
        from safetensors.torch import save

        from seqlab.train.checkpoint import atomic_write_bytes

        self._require_fit()
        tensors = {k: v.detach().contiguous().float() for k, v in self._tensors().items()}
        for k, v in tensors.items():
            _check_finite(f"cannot save {type(self).__name__}: tensor {k!r}", v)
        blob = save(tensors)
        base = Path(path)
        meta = {
            "format": FORMAT,
            "class": type(self).__name__,
            "config": self._config(),
            "words": list(self.index_to_key),
            "sha256": hashlib.sha256(blob).hexdigest(),
        }
        atomic_write_bytes(base.with_suffix(".safetensors"), blob)
        atomic_write_bytes(base.with_suffix(".json"), json.dumps(meta).encode())

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`; clear errors on a missing, corrupt or mismatched pair."""
        from safetensors import SafetensorError
        from safetensors.torch import load

        base = Path(path)
        jpath, tpath = base.with_suffix(".json"), base.with_suffix(".safetensors")
        for p in (jpath, tpath):
            if not p.is_file():
                raise FileNotFoundError(f"{p} not found (a saved embedder is a .json + .safetensors pair)")
        try:
            meta = json.loads(jpath.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"corrupt embedder file {jpath}: not valid JSON ({err})") from err
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{jpath} is not a seqlab.embed file (expected format {FORMAT!r})")
        if meta.get("class") != cls.__name__:
            raise ValueError(f"{jpath} holds a {meta.get('class')}, not a {cls.__name__}")
        blob = tpath.read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
            raise ValueError(f"corrupt embedder file {tpath}: its checksum does not match {jpath.name}")
        try:
            tensors = load(blob)
        except (SafetensorError, Exception) as err:
            raise ValueError(f"corrupt embedder file {tpath}: {err}") from err
        obj = cls(**meta["config"])
        obj.index_to_key = list(meta["words"])
        obj.key_to_index = {w: i for i, w in enumerate(obj.index_to_key)}
        expected = obj._dims()
        for k, shape in expected.items():
            if k not in tensors:
                raise ValueError(f"{tpath}: tensor {k!r} is missing (has {sorted(tensors)})")
            if tuple(tensors[k].shape) != tuple(shape):
                raise ValueError(
                    f"{tpath}: tensor {k!r} has shape {tuple(tensors[k].shape)}, expected {tuple(shape)} "
                    f"from its config ({len(obj.index_to_key)} words)"
                )
            _check_finite(f"{tpath}: tensor {k!r}", tensors[k])
        obj._restore(meta["config"], tensors)
        return obj


class Trainer:
    """Streaming chunks of word ids with sentence ids, shared by the word2vec-style trainers."""

    @staticmethod
    def chunks(sentences: Iterable, vocab: Vocab, chunk_words: int):
        """Yield ``(ids, sentence_ids, raw_words)``: in-vocabulary ids of ~``chunk_words`` raw tokens."""
        ids: list[int] = []
        sid: list[int] = []
        raw = 0
        s_no = 0
        for sentence in sentences:
            enc = vocab.encode(sentence)
            ids.extend(enc)
            sid.extend([s_no] * len(enc))
            s_no += 1
            raw += len(sentence)
            if raw >= chunk_words:
                yield torch.tensor(ids, dtype=torch.long), torch.tensor(sid, dtype=torch.long), raw
                ids, sid, raw = [], [], 0
        if raw:
            yield torch.tensor(ids, dtype=torch.long), torch.tensor(sid, dtype=torch.long), raw


def window_pairs(sid: torch.Tensor, window: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(center, context) positions within a reduced window ``b ~ U{1..window}`` per center, same sentence."""
    n = len(sid)
    b = torch.randint(1, window + 1, (n,), generator=gen)
    centers, contexts = [], []
    pos = torch.arange(n)
    for o in range(1, min(window, n - 1) + 1):
        same = sid[:-o] == sid[o:]
        right = same & (b[:-o] >= o)  # center i, context i + o
        left = same & (b[o:] >= o)  # center i + o, context i
        centers += [pos[:-o][right], pos[o:][left]]
        contexts += [pos[o:][right], pos[:-o][left]]
    if not centers:
        e = torch.zeros(0, dtype=torch.long)
        return e, e
    return torch.cat(centers), torch.cat(contexts)


def window_contexts(
    sid: torch.Tensor, window: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """For CBOW: ``(n, 2*window)`` context positions (``-1`` where none) around each center position."""
    n = len(sid)
    b = torch.randint(1, window + 1, (n,), generator=gen)
    offs = [o for o in range(-window, window + 1) if o != 0]
    pos = torch.arange(n)
    ctx = torch.full((n, len(offs)), -1, dtype=torch.long)
    for j, o in enumerate(offs):
        p = pos + o
        ok = (p >= 0) & (p < n) & (b >= abs(o))
        pc = p.clamp(0, n - 1)
        ok &= sid[pc] == sid
        ctx[:, j] = torch.where(ok, pc, torch.full_like(pc, -1))
    return ctx, b


def add_rows(weight: torch.Tensor, index: torch.Tensor, rows: torch.Tensor) -> None:
    """``weight[index[i]] += rows[i]`` for all i, repeated indices summed (``index_put_`` with accumulate:
    on CPU several times faster than ``index_add_``, which loops over rows)."""
    weight.index_put_((index,), rows, accumulate=True)


def sgns_step(
    w_in: torch.Tensor,
    w_out: torch.Tensor,
    inputs: torch.Tensor | None,
    targets: torch.Tensor,
    negatives: torch.Tensor,
    lr: float,
    h: torch.Tensor | None = None,
    with_loss: bool = False,
) -> tuple[torch.Tensor, float]:
    """One batched negative-sampling SGD step on ``w_out``; returns (lr * d objective / d h, summed loss).

    ``h`` defaults to ``w_in[inputs]``. For row ``b`` with output words ``o = [target, negatives...]`` and
    labels ``y = [1, 0, ...]``, ``g = lr (y - σ(u_o · h))`` (noise words equal to the target get ``g = 0``,
    as in the C code); ``u_o += g h`` is applied here, ``Σ_o g u_o`` returned for the caller to scatter.
    The loss (``-log σ(u_t·h) - Σ log σ(-u_n·h)``) is computed only when ``with_loss``.
    """
    if h is None:
        h = w_in[inputs]
    out_ids = torch.cat([targets[:, None], negatives], 1)
    u = w_out[out_ids]  # (B, k+1, d)
    score = torch.bmm(u, h.unsqueeze(2)).squeeze(2)
    g = torch.sigmoid(score).mul_(-lr)
    g[:, 0] += lr
    g[:, 1:].masked_fill_(negatives == targets[:, None], 0.0)
    grad_h = torch.bmm(g.unsqueeze(1), u).squeeze(1)
    add_rows(w_out, out_ids.reshape(-1), (g.unsqueeze(2) * h.unsqueeze(1)).reshape(-1, h.shape[1]))
    loss = 0.0
    if with_loss:
        sign = torch.full_like(score, -1.0)
        sign[:, 0] = 1.0
        keep = torch.ones_like(score, dtype=torch.bool)
        keep[:, 1:] = negatives != targets[:, None]
        loss = float(-(torch.nn.functional.logsigmoid(sign * score) * keep).sum())
    return grad_h, loss


def sgns_step_shared(
    w_out: torch.Tensor,
    h: torch.Tensor,
    targets: torch.Tensor,
    negatives: torch.Tensor,
    lr: float,
    group: int,
) -> torch.Tensor:
    """:func:`sgns_step` where each run of ``group`` consecutive rows shares its ``k`` noise words.

    ``negatives``: ``(ceil(B / group), k)``. Every row still gets ``k`` noise words drawn from the same
    distribution (only their correlation across rows changes), but the noise scores become batched matrix
    products and the noise rows to gather and scatter shrink ``group``-fold. Returns lr * d objective / d h.
    """
    b, d = h.shape
    n_groups, k = negatives.shape
    pad = n_groups * group - b
    hp = torch.cat([h, h.new_zeros(pad, d)]) if pad else h
    tp = torch.cat([targets, targets.new_full((pad,), -1)]) if pad else targets
    u_t = w_out[targets]
    g_pos = torch.sigmoid((u_t * h).sum(1)).neg_().add_(1.0).mul_(lr)
    hn = hp.view(n_groups, group, d)
    un = w_out[negatives]  # (G, k, d)
    g_neg = torch.sigmoid(torch.bmm(hn, un.transpose(1, 2))).mul_(-lr)  # (G, group, k)
    g_neg.masked_fill_(negatives.unsqueeze(1) == tp.view(n_groups, group, 1), 0.0)
    grad_h = g_pos.unsqueeze(1) * u_t + torch.bmm(g_neg, un).view(-1, d)[:b]
    rows = torch.cat([g_pos.unsqueeze(1) * h, torch.bmm(g_neg.transpose(1, 2), hn).view(-1, d)])
    add_rows(w_out, torch.cat([targets, negatives.reshape(-1)]), rows)
    return grad_h


@register(
    "embedder", "word2vec", implements=[EFFICIENT, DISTRIBUTED], used_by=[EFFICIENT.title, DISTRIBUTED.title]
)
class Word2Vec(WordVectors):
    """word2vec skip-gram (``sg=True``) or CBOW with negative sampling (``negative``) and/or hierarchical
    softmax (``hs=1``), and frequent-word subsampling."""

    name = "word2vec"

    def __init__(
        self,
        sg: bool = True,
        vector_size: int = 100,
        window: int = 5,
        negative: int = 5,
        min_count: int = 5,
        epochs: int = 5,
        sample: float = 1e-3,
        alpha: float = 0.025,
        min_alpha: float = 1e-4,
        ns_exponent: float = 0.75,
        batch_size: int = 4096,
        chunk_words: int = 100_000,
        threads: int = 1,
        seed: int = 0,
        max_vocab_size: int | None = None,
        shared_negatives: int = 1,
        hs: int = 0,
    ):
        self.sg = bool(sg)
        self.vector_size_ = check_positive_int("vector_size", vector_size)
        self.window = check_positive_int("window", window)
        if hs not in (0, 1, False, True):
            raise ValueError(f"hs must be 0 (no hierarchical softmax) or 1, got {hs!r}")
        self.hs = int(hs)
        self.negative = check_positive_int("negative", negative, minimum=0 if self.hs else 1)
        self.min_count = check_positive_int("min_count", min_count)
        self.epochs = check_positive_int("epochs", epochs)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.chunk_words = check_positive_int("chunk_words", chunk_words)
        self.threads = check_positive_int("threads", threads)
        if not (isinstance(sample, (int, float)) and sample >= 0):
            raise ValueError(f"sample must be a number >= 0, got {sample!r}")
        self.sample = float(sample)
        self.alpha = float(alpha)  # gensim's default for both architectures (the C code uses 0.05 for CBOW)
        if not self.alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha!r}")
        self.min_alpha = float(min_alpha)
        self.ns_exponent = float(ns_exponent)
        self.seed = int(seed)
        self.max_vocab_size = max_vocab_size
        self.shared_negatives = check_positive_int("shared_negatives", shared_negatives)
        self.key_to_index = None
        self.index_to_key = None
        self.stats: dict = {}

    # -- fit ----------------------------------------------------------------------------------
    def build_vocab(self, sentences: Iterable) -> Vocab:
        counts, total, _ = count_words(sentences)
        vocab = Vocab(counts, self.min_count, self.max_vocab_size)
        self.vocab, self.total_words = vocab, total
        self.index_to_key = vocab.words
        self.key_to_index = vocab.index
        return vocab

    def _init_weights(self, gen: torch.Generator) -> None:
        v, d = len(self.vocab), self.vector_size_
        self.w_in = (torch.rand(v, d, generator=gen) - 0.5) / d
        self.w_out = torch.zeros(v, d)
        self._init_hs()

    def _init_hs(self) -> None:
        """The Huffman tree of the vocabulary counts and its zero-initialised inner-node vectors."""
        if self.hs:
            self.tree = HuffmanTree(self.vocab.counts)
            self.w_hs = torch.zeros(self.tree.n_inner, self.vector_size_)

    def fit(self, sentences: Iterable) -> Word2Vec:
        """Train on ``sentences`` (a re-iterable of token lists: it is read ``epochs + 1`` times)."""
        import time

        if iter(sentences) is sentences:
            raise TypeError(
                "sentences must be re-iterable (a list or a corpus object), not a one-shot iterator: "
                "it is read once for the vocabulary and once per epoch"
            )
        gen = torch.Generator().manual_seed(self.seed)
        vocab = self.build_vocab(sentences)
        self._init_weights(gen)
        keep = vocab.keep_probability(self.sample).float()
        cum = vocab.negative_table(self.ns_exponent)
        total = self.total_words * self.epochs
        done = 0
        t0 = time.perf_counter()
        losses = []
        with torch_threads(self.threads), torch.no_grad():
            for _ in range(self.epochs):
                for ids, sid, raw in Trainer.chunks(sentences, vocab, self.chunk_words):
                    kept = torch.rand(len(ids), generator=gen) < keep[ids]
                    ids, sid = ids[kept], sid[kept]
                    if len(ids) > 1:
                        losses.append(self._train_chunk(ids, sid, gen, cum, done, raw, total))
                    done += raw
        self.stats = {
            "seconds": time.perf_counter() - t0,
            "words": total,
            "words_per_second": total / max(time.perf_counter() - t0, 1e-9),
            "loss": [float(x) for x in losses],
        }
        _check_finite(
            f"{type(self).__name__} training diverged: the vectors",
            self.w_in,
            " (lower alpha or batch_size)",
        )
        return self

    def _lr(self, done: float, total: float) -> float:
        return max(self.min_alpha, self.alpha - (self.alpha - self.min_alpha) * done / total)

    def _train_chunk(self, ids, sid, gen, cum, done, raw, total) -> float:
        """Train on one subsampled chunk; returns the mean loss of its first batch (for monitoring)."""
        loss = 0.0
        if self.sg:
            centers, contexts = window_pairs(sid, self.window, gen)
            order = torch.randperm(len(centers), generator=gen)
            centers, contexts = ids[centers[order]], ids[contexts[order]]
            n = len(centers)
            for s in range(0, n, self.batch_size):
                lr = self._lr(done + raw * s / max(n, 1), total)
                inp, tgt = contexts[s : s + self.batch_size], centers[s : s + self.batch_size]
                uniq, inv = torch.unique(inp, return_inverse=True)
                h = self._input_vectors(uniq)[inv]
                grad, batch_loss = self._output_step(h, tgt, cum, gen, lr, with_loss=s == 0)
                self._add_to_inputs(
                    uniq, torch.zeros(len(uniq), grad.shape[1]).index_put_((inv,), grad, True)
                )
                if s == 0:
                    loss = batch_loss / len(inp)
            return loss
        ctx, _ = window_contexts(sid, self.window, gen)
        pos = torch.nonzero((ctx >= 0).any(1)).squeeze(1)
        pos = pos[torch.randperm(len(pos), generator=gen)]
        n = len(pos)
        bs = max(1, self.batch_size // 2)
        for s in range(0, n, bs):
            lr = self._lr(done + raw * s / max(n, 1), total)
            p = pos[s : s + bs]
            c = ctx[p]
            mask = c >= 0
            words = ids[c[mask]]  # context words of all centers, flattened
            row = torch.nonzero(mask)[:, 0]  # which center each belongs to
            uniq, inv = torch.unique(words, return_inverse=True)
            vec = self._input_vectors(uniq)[inv]
            count = mask.sum(1, keepdim=True).float()
            h = torch.zeros(len(p), vec.shape[1]).index_put_((row,), vec, True) / count
            tgt = ids[p]
            grad, batch_loss = self._output_step(h, tgt, cum, gen, lr, with_loss=s == 0)
            # CBOW (mean): the gradient w.r.t. h goes to every context word, undivided (as the C code does)
            self._add_to_inputs(
                uniq, torch.zeros(len(uniq), grad.shape[1]).index_put_((inv,), grad[row], True)
            )
            if s == 0:
                loss = batch_loss / len(tgt)
        return loss

    def _output_step(self, h, tgt, cum, gen, lr, with_loss):
        """Hierarchical-softmax and/or negative-sampling step on the output side; their gradients add."""
        if not self.hs:
            return self._ns_step(h, tgt, cum, gen, lr, with_loss)
        grad, loss = hs_step(self.w_hs, self.tree, h, tgt, lr, with_loss=with_loss)
        if self.negative:
            g2, l2 = self._ns_step(h, tgt, cum, gen, lr, with_loss)
            grad, loss = grad + g2, loss + l2
        return grad, loss

    def _ns_step(self, h, tgt, cum, gen, lr, with_loss):
        """Negative-sampling step on the output vectors (noise shared by ``shared_negatives`` rows)."""
        g = self.shared_negatives
        if g == 1 or with_loss:
            neg = draw_negatives(cum, (len(tgt), self.negative), gen)
            return sgns_step(None, self.w_out, None, tgt, neg, lr, h=h, with_loss=with_loss)
        neg = draw_negatives(cum, (-(-len(tgt) // g), self.negative), gen)
        return sgns_step_shared(self.w_out, h, tgt, neg, lr, g), 0.0

    def _input_vectors(self, words: torch.Tensor) -> torch.Tensor:
        """Input vectors of (distinct) word ids; fastText composes them from subwords."""
        return self.w_in[words]

    def _add_to_inputs(self, words: torch.Tensor, grad: torch.Tensor) -> None:
        """Apply ``grad`` (already times the learning rate) to the input vectors of distinct ``words``."""
        self.w_in.index_put_((words,), grad, accumulate=True)

    # -- state ----------------------------------------------------------------------------------
    def _vectors(self) -> torch.Tensor:
        return self.w_in

    def _config(self) -> dict:
        return {
            "sg": self.sg,
            "vector_size": self.vector_size_,
            "window": self.window,
            "negative": self.negative,
            "min_count": self.min_count,
            "epochs": self.epochs,
            "sample": self.sample,
            "alpha": self.alpha,
            "min_alpha": self.min_alpha,
            "ns_exponent": self.ns_exponent,
            "seed": self.seed,
            "shared_negatives": self.shared_negatives,
            "hs": self.hs,
        }

    def _tensors(self) -> dict:
        t = {"w_in": self.w_in, "w_out": self.w_out}
        if self.hs:
            t["w_hs"] = self.w_hs
        return t

    def _dims(self) -> dict:
        v, d = len(self.index_to_key), self.vector_size_
        dims = {"w_in": (v, d), "w_out": (v, d)}
        if self.hs:
            dims["w_hs"] = (v - 1, d)
        return dims

    def _restore(self, config, tensors) -> None:
        self.w_in, self.w_out = tensors["w_in"].clone(), tensors["w_out"].clone()
        if self.hs:
            self.w_hs = tensors["w_hs"].clone()
