"""Small word language models trained here, for the continuous-decoding experiments.

The sentence-recovery, prompt-waywardness and AriEL claims need a frozen LM that has learnt some
language. This module trains one in seconds: a :class:`~seqlab.models.SequenceModel` (any causal
mixer) on word sequences ``BOS w_1 .. w_n EOS`` with AdamW and teacher forcing, the loss masked past
each sentence's EOS. Models are cached in-process per (corpus, configuration, seed), so the cells of
one experiment that share a seed train it once.

Ids: ``BOS`` = 0, ``EOS`` = 1, ``UNK`` = 2, words from 3 on (most frequent first).
Corpus: the sentences of gensim's shipped Lee corpus (``lee_background.cor``), lower-cased words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F

from seqlab.models import SequenceModel

BOS, EOS, UNK = 0, 1, 2
SPECIALS = 3
_CACHE: dict[tuple, SequenceModel] = {}


def lee_sentences(min_words: int = 4, max_words: int = 12) -> list[list[str]]:
    """Lower-cased word lists of the Lee corpus sentences with ``min_words..max_words`` words, in order."""
    from seqlab.tasks.text import gensim_data_dir

    text = (Path(gensim_data_dir()) / "lee_background.cor").read_text(encoding="utf-8", errors="replace")
    out = []
    for s in re.split(r"[.!?]+\s", text.lower()):
        words = re.findall(r"[a-z0-9']+|[,;:]", s)
        if min_words <= len(words) <= max_words:
            out.append(words)
    return out


def vocabulary(sentences: list[list[str]], size: int) -> dict[str, int]:
    """The ``size`` most frequent words -> ids from :data:`SPECIALS` on (ties broken by first use)."""
    counts = Counter(w for s in sentences for w in s)
    return {w: SPECIALS + i for i, (w, _) in enumerate(counts.most_common(size))}


def to_ids(sentences: list[list[str]], vocab: dict[str, int]) -> list[list[int]]:
    """``[BOS, w.., EOS]`` id lists (unknown words -> UNK)."""
    return [[BOS, *(vocab.get(w, UNK) for w in s), EOS] for s in sentences]


def pad(seqs: list[list[int]], value: int = EOS) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, max_len)`` ids right-padded with ``value`` and the bool mask of real tokens."""
    n = max(len(s) for s in seqs)
    x = torch.full((len(seqs), n), value, dtype=torch.long)
    m = torch.zeros(len(seqs), n, dtype=torch.bool)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        m[i, : len(s)] = True
    return x, m


def train_word_lm(
    seqs: list[list[int]],
    vocab_size: int,
    *,
    seed: int,
    mixer: str = "attention",
    d_model: int = 64,
    n_layers: int = 2,
    steps: int = 400,
    lr: float = 3e-3,
    batch_size: int = 32,
    mixer_cfg: dict | None = None,
    cache_key=None,
) -> SequenceModel:
    """Train a causal ``SequenceModel`` LM on ``seqs`` (each starting with its first token, e.g. BOS);
    eval mode, frozen (``requires_grad`` False). ``cache_key`` (hashable) reuses a model in-process."""
    key = None if cache_key is None else (cache_key, mixer, d_model, n_layers, steps, lr, batch_size, seed)
    if key is not None and key in _CACHE:
        return _CACHE[key]
    if not seqs or min(len(s) for s in seqs) < 2:
        raise ValueError("train_word_lm expects sequences of at least 2 tokens")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        pos = {"pos_enc": "sinusoidal"} if mixer == "attention" else {}
        model = SequenceModel(
            mixer=mixer, d_model=d_model, n_layers=n_layers, vocab_size=vocab_size, mixer_cfg=mixer_cfg, **pos
        )
    fit_lm(model, seqs, vocab_size, seed=seed, steps=steps, lr=lr, batch_size=batch_size)
    for p in model.parameters():
        p.requires_grad_(False)
    if key is not None:
        _CACHE[key] = model
    return model


def fit_lm(
    model,
    seqs: list[list[int]],
    vocab_size: int,
    *,
    seed: int,
    steps: int,
    lr: float = 3e-3,
    batch_size: int = 32,
):
    """Train a causal LM ``model`` (``model(ids)`` -> ``(B, T, vocab_size)`` logits or log-probabilities) on
    ``seqs`` with AdamW (weight decay 0.01), 20-step linear warm-up then cosine decay, teacher forcing, the
    loss masked past each sentence's EOS; leaves it in eval mode and returns it."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    for step in range(steps):
        for grp in opt.param_groups:  # linear warm-up, cosine decay
            warm = min(1.0, (step + 1) / 20)
            grp["lr"] = lr * warm * 0.5 * (1 + math.cos(math.pi * step / steps))
        pick = torch.randint(len(seqs), (batch_size,), generator=g).tolist()
        x, m = pad([seqs[i] for i in pick])
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), x[:, 1:].reshape(-1), reduction="none")
        loss = (loss * m[:, 1:].reshape(-1)).sum() / m[:, 1:].sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()
    return model


@torch.no_grad()
def perplexity(model, seqs: list[list[int]]) -> float:
    """Per-token perplexity of ``seqs`` (every token after the first, EOS included)."""
    nll, n = 0.0, 0
    for i in range(0, len(seqs), 64):
        x, m = pad(seqs[i : i + 64])
        lp = torch.log_softmax(model(x[:, :-1]).float(), -1)
        tok = -lp.gather(-1, x[:, 1:, None])[..., 0]
        nll += float((tok * m[:, 1:]).sum())
        n += int(m[:, 1:].sum())
    return math.exp(nll / n)


def unigram_perplexity(train: list[list[int]], test: list[list[int]], vocab_size: int) -> float:
    """Perplexity of the add-one unigram model of ``train`` on ``test`` (tokens after the first)."""
    counts = Counter(w for s in train for w in s[1:])
    total = sum(counts.values())
    nll = sum(-math.log((counts[w] + 1) / (total + vocab_size)) for s in test for w in s[1:])
    return math.exp(nll / sum(len(s) - 1 for s in test))
