"""Experiment cell ``decode.dbs``: Diverse Beam Search vs beam search on a small word LM.

Diverse Beam Search (Vijayakumar et al., "Diverse Beam Search: Decoding Diverse Solutions from Neural
Sequence Models", arXiv 1610.02424) splits the beam budget into ``G`` groups decoded in turn; group
``g`` scores a token ``y`` as ``log p(y | prefix) - lambda * sum_{h < g} [y chosen by group h at this
step]`` (Hamming diversity). Here: a word LM trained on the Lee corpus (:mod:`seqlab.decode.small_lm`),
held-out sentences' first two words as prompts, and per prompt the 4 sequences returned by beam search
(4 beams) and by DBS (4 groups x 1 beam, strength 0.5). Metric: distinct-2 of the 4 continuations
(distinct bigrams / all bigrams, after the prompt, up to EOS); cost: the mean per-sequence
log-probability of the continuations under the LM.
"""

from __future__ import annotations

import torch

from seqlab.registry import experiment

DBS_DEFAULTS = dict(
    vocab=1000,
    d_model=64,
    n_layers=2,
    lm_steps=400,
    prompts=32,
    prompt_words=2,
    max_new_tokens=10,
    strength=0.5,
)


def continuation(row: list[int], start: int, eos: int) -> list[int]:
    """The tokens of ``row`` from ``start`` up to and including the first ``eos`` (or to the end)."""
    out = []
    for t in row[start:]:
        out.append(t)
        if t == eos:
            break
    return out


def distinct_n(seqs: list[list[int]], n: int = 2) -> float:
    """Distinct-n: number of distinct n-grams over all n-grams of ``seqs`` (0.0 when there are none)."""
    grams = [tuple(s[i : i + n]) for s in seqs for i in range(len(s) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@torch.no_grad()
def sequence_logprob(lm, prompt: list[int], cont: list[int]) -> float:
    """Sum of ``log p(cont_t | prompt, cont_<t)`` under ``lm`` (a causal model returning logits)."""
    x = torch.tensor([prompt + cont])
    lp = torch.log_softmax(lm(x[:, :-1]).float(), -1)[0]
    idx = torch.arange(len(prompt) - 1, x.shape[1] - 1)
    return float(lp[idx, x[0, len(prompt) :]].sum())


@experiment("decode.dbs")
def dbs_experiment(params: dict, seed: int) -> dict:
    """Distinct-2 and mean log-probability of the 4 returned sequences of beam search and of DBS."""
    from seqlab.decode import small_lm as S
    from seqlab.decode.beam import beam, diverse_beam

    p = {**DBS_DEFAULTS, **params}
    sents = S.lee_sentences(4, 30)
    vocab = S.vocabulary(sents, p["vocab"])
    v = S.SPECIALS + len(vocab)
    ids = S.to_ids(sents, vocab)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(ids), generator=g).tolist()
    n_test = max(p["prompts"], 64)
    test = [ids[i] for i in perm[:n_test]]
    train = [ids[i] for i in perm[n_test:]]
    lm = S.train_word_lm(
        train,
        v,
        seed=seed,
        d_model=p["d_model"],
        n_layers=p["n_layers"],
        steps=p["lm_steps"],
        cache_key="dbs",
    )
    out = {"perplexity": S.perplexity(lm, test), "unigram_perplexity": S.unigram_perplexity(train, test, v)}
    k = 1 + p["prompt_words"]
    kw = dict(num_beams=4, num_return_sequences=4, max_new_tokens=p["max_new_tokens"], eos_token_id=S.EOS)
    arms = {
        "beam": lambda x: beam(lm, x, **kw),
        "dbs": lambda x: diverse_beam(lm, x, num_groups=4, diversity_strength=p["strength"], **kw),
    }
    for arm, run in arms.items():
        dist, lps = [], []
        for s in test[: p["prompts"]]:
            prompt = s[:k]
            rows = run(torch.tensor([prompt])).tolist()
            conts = [continuation(r, k, S.EOS) for r in rows]
            dist.append(distinct_n(conts, 2))
            lps += [sequence_logprob(lm, prompt, c) for c in conts]
        out[f"distinct2_{arm}"] = sum(dist) / len(dist)
        out[f"logprob_{arm}"] = sum(lps) / len(lps)
    out["gain_distinct2"] = out["distinct2_dbs"] - out["distinct2_beam"]
    out["logprob_cost"] = out["logprob_beam"] - out["logprob_dbs"]
    return out
