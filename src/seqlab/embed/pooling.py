"""Pooling a sequence of token states into one vector: CLS, mean and landmark (LMK) pooling.

With token states ``h_1..h_T`` (the last hidden layer of an encoder) and padding mask ``m_t``:

- **CLS** ("BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
  arXiv 1810.04805): the state of the first token, ``e = h_1`` (the ``[CLS]`` token);
- **mean** (the pooling of "Sentence-BERT", arXiv 1908.10084): ``e = sum_t m_t h_t / sum_t m_t``;
- **LMK** ("LMK > CLS: Landmark Pooling for Dense Embeddings", arXiv 2601.21525): the content
  tokens are cut into chunks ``z_1..z_n`` of ``every`` tokens and a landmark token follows each
  chunk, ``[CLS] z_1 [LMK] z_2 [LMK] ... z_n [LMK]``; the embedding is the mean of the landmark
  tokens' states, ``e = (1/n) sum_i h_{p_i}`` at the landmark positions ``p_i``. For a BERT
  encoder the landmark is ``[SEP]`` (the paper's choice), so the last landmark is the usual
  closing ``[SEP]`` and a text of at most ``every`` tokens is encoded exactly as CLS/mean encode it.

:class:`PooledEncoder` applies these to any :mod:`seqlab.lm` encoder (MiniLM) from text, and to
any model with ``hidden_states(ids, mask)`` -- a :class:`seqlab.models.SequenceModel` too -- from
token ids (:meth:`PooledEncoder.encode_ids`).
"""

from __future__ import annotations

import math

import torch

from seqlab.registry import Paper, register

LMK_PAPER = Paper("LMK > CLS: Landmark Pooling for Dense Embeddings", "2601.21525")
BERT_PAPER = Paper(
    "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding", "1810.04805"
)
SBERT_PAPER = Paper("Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks", "1908.10084")
POOLINGS = ("cls", "mean", "lmk")


def _check_states(h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if not isinstance(h, torch.Tensor) or h.dim() != 3:
        got = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
        raise ValueError(f"pooling expects token states of shape (batch, length, d), got {got}")
    if mask is None:
        return torch.ones(h.shape[:2], dtype=h.dtype, device=h.device)
    if mask.shape != h.shape[:2]:
        raise ValueError(f"pooling expects a mask of shape {tuple(h.shape[:2])}, got {tuple(mask.shape)}")
    if bool((mask.sum(1) == 0).any()):
        raise ValueError("pooling expects every row of the mask to select at least one token")
    return mask.to(h.dtype)


def mean_pool(h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``sum_t m_t h_t / sum_t m_t`` per row: ``(B, T, d) -> (B, d)``."""
    m = _check_states(h, mask)
    return (h * m[..., None]).sum(1) / m.sum(1, keepdim=True)


def cls_pool(h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The state of each row's first real token (``[CLS]`` for BERT; first unpadded column)."""
    m = _check_states(h, mask)
    first = (m > 0).float().argmax(1)
    return h[torch.arange(h.shape[0], device=h.device), first]


def last_pool(h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The state of each row's last real token (the usual pooling of a causal LM)."""
    m = _check_states(h, mask)
    t = torch.arange(h.shape[1], device=h.device).expand_as(m)
    last = torch.where(m > 0, t, -1).max(1).values
    return h[torch.arange(h.shape[0], device=h.device), last]


def landmark_positions(n_tokens: int, every: int, prefix: int = 1) -> list[int]:
    """Positions of the landmarks in ``prefix`` specials + ``n_tokens`` content with one landmark
    after every chunk of ``every`` content tokens (the last chunk may be shorter)."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"landmark interval 'every' must be a positive int, got {every!r}")
    if n_tokens < 0 or prefix < 0:
        raise ValueError(f"n_tokens and prefix must be >= 0, got {n_tokens}, {prefix}")
    n_chunks = max(1, math.ceil(n_tokens / every))
    out = []
    for i in range(n_chunks):
        end = min((i + 1) * every, n_tokens)  # content tokens up to and including this chunk
        out.append(prefix + end + i)  # + the i landmarks already inserted
    return out


def insert_landmarks(content: list[int], every: int, lmk_id: int, prefix: list[int] = ()) -> list[int]:
    """``prefix + z_1 + [lmk] + z_2 + [lmk] + ... + z_n + [lmk]`` with chunks ``z_i`` of ``every`` ids."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"landmark interval 'every' must be a positive int, got {every!r}")
    out = list(prefix)
    for start in range(0, max(len(content), 1), every):
        out.extend(content[start : start + every])
        out.append(lmk_id)
    return out


def lmk_pool(h: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
    """Mean of the states at the landmark positions (``landmarks``: ``(B, T)`` 0/1)."""
    return mean_pool(h, landmarks)


def _budget(max_len: int, specials: int, every: int | None) -> int:
    """Most content tokens that fit ``max_len`` positions with ``specials`` fixed tokens (and one
    landmark per ``every`` content tokens when ``every`` is given)."""
    if every is None:
        return max_len - specials
    n = max_len - specials  # specials here: the prefix only; landmarks come on top
    while n > 0 and n + math.ceil(n / every) > max_len - specials:
        n -= 1
    return n


class PooledEncoder:
    """A frozen encoder plus one pooling: ``encode(texts) -> (N, d)`` embeddings.

    ``lm``: a :mod:`seqlab.lm` model (or its name) for :meth:`encode`; any model with
    ``hidden_states(ids, mask)`` for :meth:`encode_ids`. ``pooling``: "cls", "mean" or "lmk";
    ``every``: landmark interval in content tokens; ``layer``: which hidden state (default the
    last); texts longer than the model's context are truncated to fit (landmarks included).
    """

    def __init__(
        self,
        lm="minilm-l6",
        pooling: str = "mean",
        every: int = 32,
        layer: int = -1,
        max_length: int | None = None,
        batch_size: int = 16,
        normalize: bool = False,
    ):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"landmark interval 'every' must be a positive int, got {every!r}")
        if isinstance(lm, str):
            import seqlab.lm

            lm = seqlab.lm.load(lm)
        if not hasattr(lm, "hidden_states"):
            raise ValueError(
                f"PooledEncoder needs a model with hidden_states(ids, mask), got {type(lm).__name__}"
            )
        self.lm, self.pooling, self.every, self.layer = lm, pooling, every, layer
        self.batch_size, self.normalize = batch_size, normalize
        ctx = getattr(lm, "context_length", None)
        self.max_length = max_length or ctx or 512

    def __repr__(self) -> str:
        extra = f", every={self.every}" if self.pooling == "lmk" else ""
        return f"PooledEncoder({getattr(self.lm, 'name', type(self.lm).__name__)!r}, {self.pooling}{extra})"

    # -- building the token rows ----------------------------------------------------------------
    def _specials(self) -> tuple[list[int], list[int], int]:
        tok = getattr(self.lm, "tokenizer", None)
        if tok is None:
            raise ValueError(
                f"{type(self.lm).__name__} has no tokenizer: use encode_ids(rows, lmk_id=...) with token ids"
            )
        cls, sep = tok.cls_token_id, tok.sep_token_id
        if cls is None or sep is None:
            raise ValueError("text pooling needs a BERT-style tokenizer with [CLS] and [SEP] tokens")
        return [cls], [sep], sep

    def build_row(self, content: list[int], prefix: list[int], suffix: list[int], lmk_id: int):
        """Token ids of one text and the landmark/pooled positions' 0/1 marks."""
        if self.pooling == "lmk":
            n = _budget(self.max_length, len(prefix), self.every)
            content = content[:n]
            ids = insert_landmarks(content, self.every, lmk_id, prefix)
            marks = [0] * len(ids)
            for p in landmark_positions(len(content), self.every, len(prefix)):
                marks[p] = 1
            return ids, marks
        content = content[: self.max_length - len(prefix) - len(suffix)]
        ids = list(prefix) + content + list(suffix)
        return ids, [1] * len(ids)

    # -- encoding -------------------------------------------------------------------------------
    def encode(self, texts: list[str]) -> torch.Tensor:
        """One embedding per text, ``(N, d)``."""
        if isinstance(texts, str) or not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError(f"encode expects a non-empty list of strings, got {texts!r}")
        prefix, suffix, lmk = self._specials()
        tok = self.lm.tokenizer
        content = tok(list(texts), add_special_tokens=False)["input_ids"]
        rows = [self.build_row(c, prefix, suffix, lmk) for c in content]
        return self._run(rows)

    def encode_ids(
        self, rows: list[list[int]], lmk_id: int | None = None, prefix: list[int] = ()
    ) -> torch.Tensor:
        """Embeddings of token-id rows (no tokenizer needed): ``prefix`` is prepended to every row;
        LMK pooling inserts ``lmk_id`` after every chunk."""
        if not rows or not all(isinstance(r, (list, tuple)) and len(r) > 0 for r in rows):
            raise ValueError("encode_ids expects a non-empty list of non-empty token-id lists")
        if self.pooling == "lmk" and lmk_id is None:
            raise ValueError("LMK pooling over token ids needs lmk_id, the id of the landmark token")
        built = [self.build_row(list(r), list(prefix), [], lmk_id if lmk_id is not None else 0) for r in rows]
        return self._run(built)

    def _run(self, rows) -> torch.Tensor:
        out = []
        uniform = getattr(self.lm, "tokenizer", None) is None  # SequenceModel: no padding
        pad = getattr(self.lm, "pad_token_id", None) or 0
        left = getattr(self.lm, "padding_side", "right") == "left"
        batch = 1 if uniform else self.batch_size
        for s in range(0, len(rows), batch):
            chunk = rows[s : s + batch]
            T = max(len(ids) for ids, _ in chunk)
            ids = torch.full((len(chunk), T), pad, dtype=torch.long)
            mask = torch.zeros(len(chunk), T, dtype=torch.long)
            marks = torch.zeros(len(chunk), T)
            for i, (r, m) in enumerate(chunk):
                sl = slice(T - len(r), T) if left else slice(0, len(r))
                ids[i, sl], mask[i, sl], marks[i, sl] = torch.tensor(r), 1, torch.tensor(m, dtype=torch.float)
            with torch.no_grad():
                hs = self.lm.hidden_states(ids, None if uniform else mask)
            h = hs[self.layer]
            if self.pooling == "cls":
                e = cls_pool(h, mask)
            else:
                e = mean_pool(h, marks)  # mean: marks = mask; lmk: marks = landmarks
            out.append(e.float())
        emb = torch.cat(out)
        return torch.nn.functional.normalize(emb, dim=-1) if self.normalize else emb


@register("embedder", "cls_pooling", implements=BERT_PAPER, used_by=[LMK_PAPER.title])
def cls_pooling(lm="minilm-l6", **kw) -> PooledEncoder:
    """CLS pooling of a frozen encoder: the first token's state."""
    return PooledEncoder(lm, "cls", **kw)


@register("embedder", "mean_pooling", implements=SBERT_PAPER, used_by=[LMK_PAPER.title])
def mean_pooling(lm="minilm-l6", **kw) -> PooledEncoder:
    """Mean pooling of a frozen encoder over its unpadded tokens."""
    return PooledEncoder(lm, "mean", **kw)


@register("embedder", "lmk_pooling", implements=LMK_PAPER)
def lmk_pooling(lm="minilm-l6", every: int = 32, **kw) -> PooledEncoder:
    """Landmark pooling: a landmark token after every chunk, the landmarks' states averaged."""
    return PooledEncoder(lm, "lmk", every=every, **kw)
