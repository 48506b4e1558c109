"""Beam search, Diverse Beam Search and trie-constrained beam search: one engine.

Beam search keeps the ``K`` highest-scoring prefixes, scored by their summed log-probability
``s(y) = sum_t log p(y_t | y_<t)``. A hypothesis that emits EOS (or reaches ``max_new_tokens``)
is finished and ranked by ``s(y) / |y|^alpha`` (``alpha`` = ``length_penalty``, ``|y|`` the number
of generated tokens). The bookkeeping follows ``transformers``' beam search, so with the same model
the same settings return the same sequences: every step considers the best ``2K`` continuations,
the best ``K`` that did not finish keep running, finished ones among the best ``K`` enter a store of
``K`` finished hypotheses, and search stops when ``early_stopping`` is True and the store is full,
or (False) when the best running score divided by the current length cannot beat the worst stored
one, or ("never") when that bound at the maximum length cannot.

Diverse Beam Search ("Diverse Beam Search: Decoding Diverse Solutions from Neural Sequence Models",
arXiv 1610.02424) splits the beams into ``G`` groups searched in turn at every step; group ``g``
scores a token ``v`` by ``log p(v) - lambda * h(v)``, with ``h(v)`` the number of beams of the
groups before it that chose ``v`` at this step (Hamming diversity, strength ``lambda``); the penalty
accumulates into the group's scores. With one group and ``lambda = 0`` it is beam search exactly.

Constrained beam search masks every token a :class:`~seqlab.decode.trie.PrefixTrie` does not allow
after the generated prefix (EOS is allowed exactly when the prefix is a complete sequence), so each
returned sequence is one of the trie's ("Autoregressive Entity Retrieval", arXiv 2010.00904).
"""

from __future__ import annotations

import torch

from seqlab.decode.common import check_common, special_ids
from seqlab.decode.trie import PrefixTrie
from seqlab.registry import Paper, register

NEG = -1.0e9  # "impossible" score, added (not assigned) as transformers does


def _check_beams(num_beams, length_penalty, early_stopping, num_return_sequences):
    if isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams < 1:
        raise ValueError(f"num_beams must be an int >= 1, got {num_beams!r}")
    if not isinstance(length_penalty, (int, float)) or length_penalty != length_penalty:
        raise ValueError(f"length_penalty must be a number, got {length_penalty!r}")
    if early_stopping not in (True, False, "never"):
        raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")
    if not isinstance(num_return_sequences, int) or not 1 <= num_return_sequences <= num_beams:
        raise ValueError(
            f"num_return_sequences must be an int in [1, num_beams={num_beams}], got {num_return_sequences!r}"
        )


def _gather(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``t[b, idx[b, j], ...]`` for a (B, N, ...) tensor and (B, M) indices."""
    view = idx.reshape(*idx.shape, *([1] * (t.dim() - 2))).expand(*idx.shape, *t.shape[2:])
    return t.gather(1, view)


class _Group:
    """Running and finished hypotheses of one beam group (``k`` beams) for a batch of ``b`` prompts."""

    def __init__(self, prompt: torch.Tensor, k: int, total: int, fill: int):
        b, t = prompt.shape
        self.k = k
        self.run_seq = torch.full((b, k, total), fill, dtype=torch.long, device=prompt.device)
        self.run_seq[:, :, :t] = prompt[:, None]
        self.run_score = torch.zeros(b, k, device=prompt.device)
        self.run_score[:, 1:] = NEG  # all beams start equal: expand the first one only
        self.fin_seq = self.run_seq.clone()
        self.fin_score = torch.full((b, k), NEG, device=prompt.device)
        self.fin_done = torch.zeros(b, k, dtype=torch.bool, device=prompt.device)
        self.fin_len = torch.zeros(b, k, dtype=torch.long, device=prompt.device)
        self.open = torch.ones(b, 1, dtype=torch.bool, device=prompt.device)  # can still improve
        self.hits = torch.zeros(b, k, dtype=torch.bool, device=prompt.device)

    def advance(self, logp, cur, prompt_len, total, eos, length_penalty, early_stopping):
        """One step from log-probs ``(B, k, V)``; returns (source beam (B, k), new tokens (B, k))."""
        b, k, v = logp.shape
        keep = max(2, 1 + (eos is not None)) * k
        cand = (logp + self.run_score[:, :, None]).reshape(b, k * v)
        top_score, top_idx = cand.topk(keep, dim=1)
        src, tok = top_idx // v, top_idx % v
        seqs = _gather(self.run_seq, src)
        seqs[:, :, cur] = tok
        if cur + 1 >= total:
            hits = torch.ones_like(tok, dtype=torch.bool)
        elif eos is not None:
            hits = tok == eos
        else:
            hits = torch.zeros_like(tok, dtype=torch.bool)
        # running beams of the next step: the best k that did not finish
        run_cand = top_score + hits.float() * NEG
        nxt = run_cand.topk(k, dim=1).indices
        self.run_seq, self.run_score = _gather(seqs, nxt), _gather(run_cand, nxt)
        new_src, new_tok = _gather(src, nxt), _gather(tok, nxt)
        # finished hypotheses: finished candidates among the best k enter the store if good enough
        gen_len = cur + 1 - prompt_len
        fin = top_score / (gen_len**length_penalty)
        fin = fin + (self.fin_done.all(1, keepdim=True) & (early_stopping is True)).float() * NEG
        fin = fin + (~self.open).float() * NEG
        top_k_mask = torch.arange(keep, device=tok.device) < k
        just = hits & top_k_mask[None]
        fin = fin + (~just).float() * NEG
        merged_score = torch.cat([self.fin_score, fin], 1)
        best = merged_score.topk(k, dim=1).indices
        self.fin_seq = _gather(torch.cat([self.fin_seq, seqs], 1), best)
        self.fin_score = _gather(merged_score, best)
        self.fin_done = _gather(torch.cat([self.fin_done, just], 1), best)
        self.fin_len = _gather(torch.cat([self.fin_len, torch.full_like(tok, gen_len)], 1), best)
        self.hits = hits
        return new_src, new_tok

    def update_open(self, cur, prompt_len, total, length_penalty, early_stopping):
        """Whether the best running beam can still beat the worst finished one (after ``cur`` tokens)."""
        if early_stopping == "never" and length_penalty > 0:
            length = total - prompt_len
        else:
            length = cur - prompt_len
        best_possible = self.run_score[:, :1] / (length**length_penalty)
        worst = torch.where(self.fin_done, self.fin_score.min(1, keepdim=True).values, NEG)
        self.open = self.open & (best_possible > worst).any(1, keepdim=True)

    def finished(self, early_stopping) -> bool:
        no_gain = not bool(self.open.any())
        full = bool(self.fin_done.all()) and early_stopping is True
        stuck = bool(self.hits.all())
        return no_gain or full or stuck


def beam_engine(
    lm,
    input_ids,
    mask,
    *,
    num_beams: int,
    max_new_tokens: int,
    length_penalty: float,
    early_stopping,
    eos,
    pad,
    num_groups: int = 1,
    diversity: float = 0.0,
    trie: PrefixTrie | None = None,
    num_return_sequences: int = 1,
) -> torch.Tensor:
    """Shared beam loop (see the module docstring); returns (B * num_return_sequences, T + new)."""
    b, t = input_ids.shape
    k = num_beams // num_groups
    total = t + max_new_tokens
    groups = [_Group(input_ids, k, total, pad) for _ in range(num_groups)]
    flat_ids = input_ids.repeat_interleave(num_beams, 0)
    flat_mask = None if mask is None else mask.repeat_interleave(num_beams, 0)
    base = torch.arange(b, device=input_ids.device)[:, None] * num_beams
    with torch.no_grad():
        logits, state = lm.prefill(flat_ids, flat_mask)
        cur = t
        while True:
            logp = torch.log_softmax(logits.float(), dim=-1)
            v = logp.shape[-1]
            if trie is not None:
                logp = logp + _trie_mask(groups, trie, t, cur, v, eos, logp.device)
            logp = logp.view(b, num_groups, k, v)
            sources, tokens, chosen = [], [], None
            for g, grp in enumerate(groups):
                lp = logp[:, g]
                if diversity and chosen is not None:
                    lp = lp - diversity * chosen[:, None, :]
                src, tok = grp.advance(lp, cur, t, total, eos, length_penalty, early_stopping)
                sources.append(src + g * k)
                tokens.append(tok)
                if diversity:
                    counts = torch.zeros(b, v, device=tok.device).scatter_add_(
                        1, tok, torch.ones_like(tok, dtype=torch.float)
                    )
                    chosen = counts if chosen is None else chosen + counts
            cur += 1
            for grp in groups:
                grp.update_open(cur, t, total, length_penalty, early_stopping)
            if all(grp.finished(early_stopping) for grp in groups) or cur >= total:
                break
            index = (torch.cat(sources, 1) + base).reshape(-1)
            state = lm.reorder_state(state, index)
            logits, state = lm.step(torch.cat(tokens, 1).reshape(-1), state)
    return _best(groups, t, num_return_sequences, pad)


def _trie_mask(groups, trie: PrefixTrie, prompt_len, cur, v, eos, device):
    """(B * K, V) additive mask: 0 where the trie allows the token after the prefix, else -inf."""
    seqs = torch.stack([g.run_seq[:, :, prompt_len:cur] for g in groups], 1)
    rows = seqs.reshape(seqs.shape[0] * seqs.shape[1] * seqs.shape[2], cur - prompt_len)
    mask = torch.full((rows.shape[0], v), float("-inf"), device=device)
    for r, prefix in enumerate(rows.tolist()):
        allowed = trie.allowed(prefix)
        if eos is not None and trie.complete(prefix):
            allowed = [*allowed, eos]
        if allowed:
            mask[r, allowed] = 0.0
    return mask


def _best(groups, prompt_len, n, pad) -> torch.Tensor:
    if len(groups) == 1:
        seq, score, length = groups[0].fin_seq, groups[0].fin_score, groups[0].fin_len
    else:
        seq = torch.cat([g.fin_seq for g in groups], 1)
        score = torch.cat([g.fin_score for g in groups], 1)
        length = torch.cat([g.fin_len for g in groups], 1)
        order = score.argsort(dim=1, descending=True, stable=True)
        seq, score, length = _gather(seq, order), _gather(score, order), _gather(length, order)
    seq, length = seq[:, :n].reshape(-1, seq.shape[-1]), length[:, :n].reshape(-1)
    return seq[:, : prompt_len + int(length.max())]


@register(
    "decoder",
    "beam",
    implements=Paper("Sequence to Sequence Learning with Neural Networks", "1409.3215"),
    description="beam search with length penalty and early stopping (transformers-compatible)",
)
def beam(
    lm,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    num_beams: int = 4,
    max_new_tokens: int = 16,
    length_penalty: float = 1.0,
    early_stopping: bool | str = False,
    num_return_sequences: int = 1,
    eos_token_id="default",
    pad_token_id="default",
) -> torch.Tensor:
    """Beam search; (B * num_return_sequences, T + new) LongTensor, best hypothesis first."""
    _check_beams(num_beams, length_penalty, early_stopping, num_return_sequences)
    mask = check_common(lm, input_ids, attention_mask, max_new_tokens, "beam")
    eos, pad = special_ids(lm, eos_token_id, pad_token_id)
    return beam_engine(
        lm,
        input_ids,
        mask,
        num_beams=num_beams,
        max_new_tokens=max_new_tokens,
        length_penalty=length_penalty,
        early_stopping=early_stopping,
        eos=eos,
        pad=pad,
        num_return_sequences=num_return_sequences,
    )


@register(
    "decoder",
    "diverse_beam",
    implements=Paper(
        "Diverse Beam Search: Decoding Diverse Solutions from Neural Sequence Models", "1610.02424"
    ),
    description="groups of beams with a Hamming diversity penalty between groups",
)
def diverse_beam(
    lm,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    num_beams: int = 4,
    num_groups: int = 2,
    diversity_strength: float = 0.5,
    max_new_tokens: int = 16,
    length_penalty: float = 1.0,
    early_stopping: bool | str = False,
    num_return_sequences: int = 1,
    eos_token_id="default",
    pad_token_id="default",
) -> torch.Tensor:
    """Diverse Beam Search: ``num_groups`` groups of ``num_beams / num_groups`` beams, Hamming diversity."""
    _check_beams(num_beams, length_penalty, early_stopping, num_return_sequences)
    if (
        isinstance(num_groups, bool)
        or not isinstance(num_groups, int)
        or num_groups < 1
        or num_beams % num_groups
    ):
        raise ValueError(f"num_groups must be an int >= 1 dividing num_beams={num_beams}, got {num_groups!r}")
    if not isinstance(diversity_strength, (int, float)) or not diversity_strength >= 0:
        raise ValueError(f"diversity_strength must be a number >= 0, got {diversity_strength!r}")
    mask = check_common(lm, input_ids, attention_mask, max_new_tokens, "diverse_beam")
    eos, pad = special_ids(lm, eos_token_id, pad_token_id)
    return beam_engine(
        lm,
        input_ids,
        mask,
        num_beams=num_beams,
        max_new_tokens=max_new_tokens,
        length_penalty=length_penalty,
        early_stopping=early_stopping,
        eos=eos,
        pad=pad,
        num_groups=num_groups,
        diversity=float(diversity_strength),
        num_return_sequences=num_return_sequences,
    )


@register(
    "decoder",
    "constrained_beam",
    implements=Paper("Autoregressive Entity Retrieval", "2010.00904"),
    used_by=["Generative Recommendation with Semantic IDs: A Practitioner's Handbook"],
    description="beam search inside a prefix trie of allowed token sequences (e.g. semantic IDs)",
)
def constrained_beam(
    lm,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    trie=None,
    num_beams: int = 4,
    max_new_tokens: int | None = None,
    length_penalty: float = 1.0,
    early_stopping: bool | str = False,
    num_return_sequences: int = 1,
    eos_token_id="default",
    pad_token_id="default",
) -> torch.Tensor:
    """Beam search whose generated tokens always spell a prefix of a trie sequence, then EOS.

    ``trie``: a :class:`PrefixTrie`, token sequences, or ``seqlab.tokenize``'s semantic-ID trie.
    ``max_new_tokens`` defaults to the trie's depth + 1 (the longest sequence and its EOS).
    """
    if trie is None:
        raise ValueError("constrained_beam needs trie=PrefixTrie(sequences) (or the sequences themselves)")
    trie = PrefixTrie.coerce(trie)
    _check_beams(num_beams, length_penalty, early_stopping, num_return_sequences)
    eos, pad = special_ids(lm, eos_token_id, pad_token_id)
    if eos is None:
        raise ValueError("constrained_beam needs an eos_token_id to end a complete trie sequence")
    if max_new_tokens is None:
        max_new_tokens = trie.depth + 1
    if isinstance(max_new_tokens, int) and max_new_tokens < trie.depth + 1:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} cannot finish the trie's longest sequence "
            f"({trie.depth} tokens + EOS); use >= {trie.depth + 1}"
        )
    if num_return_sequences > len(trie):
        raise ValueError(
            f"num_return_sequences={num_return_sequences} exceeds the trie's {len(trie)} sequences"
        )
    mask = check_common(lm, input_ids, attention_mask, max_new_tokens, "constrained_beam")
    v = getattr(lm, "vocab_size", None)
    bad = [s for s in trie.sequences() if v is not None and max(s) >= v]
    if bad:
        raise ValueError(f"trie sequence {bad[0]} holds token ids outside the vocabulary [0, {v})")
    return beam_engine(
        lm,
        input_ids,
        mask,
        num_beams=num_beams,
        max_new_tokens=max_new_tokens,
        length_penalty=length_penalty,
        early_stopping=early_stopping,
        eos=eos,
        pad=pad,
        trie=trie,
        num_return_sequences=num_return_sequences,
    )
