"""Sentence recovery on the real SmolLM2-135M: short Lee-corpus sentences, exact recovery by size of z.

Papers: "Discovering Useful Sentence Representations from Large Pretrained Language Models"
(Subramani, Suresh; arXiv 2008.09049) -- the attention (key/value) injection, ``inject="kv"`` of
:func:`seqlab.decode.recovery.recover` -- and "Can Unconditional Language Models Recover Arbitrary
Sentences?" (Subramani, Bowman, Cho; arXiv 1907.04944), whose question (exact recovery vs the size of
``z``) this asks of a pretrained model.

The frozen LM reads ``z`` through ``W`` (``11,520 x d'``: one key/value slot in each of its 30
layers), then the start tokens ``<|endoftext|>`` and a space (``START``), and must greedily regenerate
the sentence. The space matters: SmolLM2 turns its first position, its special tokens and several
punctuation tokens (``.``, ``:``, newline) into attention sinks (hidden-state norm ~20,000 at layer
15, ~180 elsewhere) whose next-token prediction is the same whatever precedes them, so a sentence whose
first token is predicted at ``<|endoftext|>`` loses that token (docs/decode.md, "SmolLM2").
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import torch

from seqlab.decode.recovery import decode_vector, recover
from seqlab.registry import experiment

START = [0, 216]  # SmolLM2's "<|endoftext|>" (an attention sink at position 0) and " " (not a sink)
SMOLLM2_DEFAULTS = dict(
    inject="kv",
    start=START,
    dims=[64, 256, 1152],
    n_sentences=5,
    min_tokens=3,
    max_tokens=8,
    steps=150,
    lr=0.03,
    control_tokens=6,
    compare_prefix=True,
)


def lee_sentences_raw() -> list[str]:
    """Sentences of gensim's Lee background corpus as written (split after ``.``, ``!`` or ``?``
    followed by white space), in order."""
    from seqlab.tasks.text import gensim_data_dir

    text = (Path(gensim_data_dir()) / "lee_background.cor").read_text(encoding="utf-8", errors="replace")
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def short_sentences(lm, min_tokens: int = 3, max_tokens: int = 8) -> list[str]:
    """The Lee sentences whose token count under ``lm``'s tokenizer lies in ``[min_tokens, max_tokens]``."""
    if not 1 <= int(min_tokens) <= int(max_tokens):
        raise ValueError(
            f"short_sentences expects 1 <= min_tokens <= max_tokens, got {min_tokens}, {max_tokens}"
        )
    sents = lee_sentences_raw()
    lengths = lm.encode(sents).mask.sum(1).tolist()
    return [s for s, n in zip(sents, lengths, strict=True) if min_tokens <= n <= max_tokens]


def _exact(got: torch.Tensor, ids: torch.Tensor, keep: torch.Tensor) -> float:
    return float(((got == ids) | ~keep).all(1).float().mean())


@experiment("decode.recovery_smollm2")
def smollm2_recovery_experiment(params: dict, seed: int) -> dict:
    """Exact recovery of ``n_sentences`` short Lee sentences (drawn by the seed) by SmolLM2 at each
    size of ``z``; baselines a random ``z`` and ``z = 0`` at the largest size; control: sentences that a
    random ``z*`` of the largest size generates, recovered from a fresh start; with
    ``compare_prefix`` also the input-level prefix injection at the largest size (lr 0.03)."""
    from seqlab.decode.waywardness import right_padded
    from seqlab.lm import load

    p = {**SMOLLM2_DEFAULTS, **params}
    lm = load("smollm2-135m")
    pool = short_sentences(lm, p["min_tokens"], p["max_tokens"])
    g = torch.Generator().manual_seed(int(seed))
    picked = [pool[i] for i in torch.randperm(len(pool), generator=g)[: p["n_sentences"]].tolist()]
    ids, lengths = right_padded(*lm.encode(picked), lm.pad_token_id)
    keep = torch.arange(ids.shape[1])[None] < lengths[:, None]
    kw = dict(inject=p["inject"], bos_token_id=list(p["start"]))
    out = {"pool": len(pool), "n_sentences": len(picked), "tokens": int(lengths.sum())}
    for dim in p["dims"]:
        c0 = time.process_time()
        r = recover(
            lm, ids, dim, steps=p["steps"], lr=p["lr"], seed=seed, lengths=lengths, check_every=1, **kw
        )
        out[f"exact_{dim}"] = float(r.exact.float().mean())
        out[f"token_acc_{dim}"] = float(((r.ids == ids) & keep).sum() / keep.sum())
        out[f"cpu_{dim}"] = time.process_time() - c0
    top = p["dims"][-1]
    z = torch.randn(len(picked), top, generator=g)
    for name, vec in (("random", z), ("zero", torch.zeros_like(z))):
        got = decode_vector(lm, vec, ids.shape[1], seed=seed, **kw)
        out[f"{name}_exact_{top}"] = _exact(got, ids, keep)
    # control: a sentence some z* of this size generates exists by construction; recover it anew
    target = decode_vector(
        lm, torch.randn(len(picked), top, generator=g), p["control_tokens"], seed=seed, **kw
    )
    r = recover(lm, target, top, steps=p["steps"], lr=p["lr"], seed=seed, check_every=1, **kw)
    out[f"control_exact_{top}"] = float(r.exact.float().mean())
    if p["compare_prefix"]:
        c0 = time.process_time()
        r = recover(lm, ids, top, steps=p["steps"], lr=p["lr"], seed=seed, lengths=lengths, check_every=1)
        out[f"prefix_exact_{top}"] = float(r.exact.float().mean())
        out[f"prefix_token_acc_{top}"] = float(((r.ids == ids) & keep).sum() / keep.sum())
        out[f"prefix_cpu_{top}"] = time.process_time() - c0
    return out
