"""Experiment cell ``decode.nmst_vs_st``: softmax vs self-terminating (ST) vs non-monotonic ST (NMST) LMs.

"A Non-monotonic Self-terminating Language Model" (Choi, Lee, Cho; arXiv 2210.00660) compares three output
heads over the same network: the softmax LM ("VA"), the self-terminating LM of "Consistency of a Recurrent
Language Model With Respect to Incomplete Decoding" (Welleck et al., arXiv 2002.02492; ``1 - p(eos|t) =
prod_{tau <= t} (1 - epsilon) sigmoid(u_eos . h_tau)``, so the EOS probability can only rise) and NMST
(``1 - p(eos|t) = (1 - lambda_t)(1 - epsilon)^t``, bounded below by ``f_lb(t) = 1 - (1 - epsilon)^t`` but
free to fall). Its point: NMST terminates under greedy, beam, top-k and nucleus decoding like ST, at a better
perplexity, because natural text's end-of-sentence probability is not monotone in the prefix: ST pays for
every point where a sentence could have ended (a high EOS probability it cannot take back) on every later
token, NMST only once.

Here: word LMs (:mod:`seqlab.decode.small_lm` data, ids and training loop) on the sentences of gensim's Lee
corpus, split by the seed into 90% train and 10% held out; the three heads over the same backbone (same
initial weights, same batches). Measured on the held-out sentences: word perplexity (EOS included) of each
LM, of the add-one unigram model, and of the *bound alone* (the NMST network with its EOS gate switched off,
``lambda = 0``, so ``p(eos|t) = f_lb(t)`` exactly); and the non-termination ratio -- the fraction of the
continuations of ``BOS w_1 .. w_k`` prompts with no EOS within ``max_length`` tokens (prompt included) --
under greedy, beam (4 beams), top-k (k 4) and nucleus (p 0.9) decoding (:func:`non_termination`).
"""

from __future__ import annotations

import torch

from seqlab.decode.generate import generate
from seqlab.models.nmst import NMSTLanguageModel, STLanguageModel, nmst_log_probs
from seqlab.registry import experiment

DECODERS = {
    "greedy": dict(method="greedy"),
    "beam": dict(method="beam", num_beams=4, length_penalty=1.0, early_stopping=True),
    "top_k": dict(method="sample", top_k=4),
    "nucleus": dict(method="sample", top_p=0.9),
}
HEADS = ("softmax", "st", "nmst")
NMST_VS_ST_DEFAULTS = dict(
    vocab=1000,
    max_words=100,
    mixer="gru",
    d_model=64,
    n_layers=1,
    steps=600,
    lr=3e-3,
    batch_size=32,
    epsilon=0.001,
    max_length=100,
    prompt_words=3,
    n_prompts=64,
)


@torch.no_grad()
def non_termination(model, prompts: torch.Tensor, eos: int, max_length: int, seed: int) -> dict[str, float]:
    """Fraction of continuations of ``prompts`` ``(n, k)`` with no ``eos`` within ``max_length`` tokens
    (prompt included), per decoder of :data:`DECODERS` (sampling seeded by ``seed``)."""
    if not isinstance(prompts, torch.Tensor) or prompts.dim() != 2:
        got = tuple(prompts.shape) if isinstance(prompts, torch.Tensor) else type(prompts).__name__
        raise ValueError(f"non_termination expects prompts of shape (n, k), got {got}")
    new = max_length - prompts.shape[1]
    if new < 1:
        raise ValueError(f"max_length {max_length} leaves no room after prompts of {prompts.shape[1]} tokens")
    out = {}
    for name, kw in DECODERS.items():
        extra = {"generator": torch.Generator().manual_seed(seed)} if kw["method"] == "sample" else {}
        ids = generate(model, prompts, max_new_tokens=new, eos_token_id=eos, pad_token_id=eos, **kw, **extra)
        cont = ids[:, prompts.shape[1] :]
        out[name] = float((~(cont == eos).any(1)).float().mean())
    return out


def bound_only(model: NMSTLanguageModel):
    """The NMST network with its EOS gate off (``lambda_t = 0``): ``p(eos|t) = f_lb(t)``, the other tokens
    share ``(1 - epsilon)^t`` by the network's softmax. A callable ``ids -> log-probabilities``."""

    def log_probs(ids: torch.Tensor) -> torch.Tensor:
        raw = model.backbone(ids).float().clone()
        raw[..., model.eos_token_id] = float("-inf")  # lambda = sigmoid(-inf) = 0
        t = torch.arange(1, ids.shape[1] + 1)
        return nmst_log_probs(raw, t, model.eos_token_id, model.epsilon)

    return log_probs


def check_params(params: dict) -> dict:
    unknown = sorted(set(params) - set(NMST_VS_ST_DEFAULTS))
    if unknown:
        raise ValueError(
            f"decode.nmst_vs_st: unknown params {unknown}; expected some of {sorted(NMST_VS_ST_DEFAULTS)}"
        )
    return {**NMST_VS_ST_DEFAULTS, **params}


@experiment("decode.nmst_vs_st")
def nmst_vs_st(params: dict, seed: int) -> dict:
    """Perplexities and non-termination ratios of the softmax, ST and NMST word LMs (same backbone)."""
    from seqlab.decode import small_lm as S
    from seqlab.models import SequenceModel

    p = check_params(params)
    sents = S.lee_sentences(4, p["max_words"])
    vocab = S.vocabulary(sents, p["vocab"])
    v = S.SPECIALS + len(vocab)
    ids = [s[: p["max_length"]] for s in S.to_ids(sents, vocab)]
    perm = torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = max(len(ids) // 10, 1)
    test, train = [ids[i] for i in perm[:n_test]], [ids[i] for i in perm[n_test:]]
    k = 1 + p["prompt_words"]
    prompts = [s[:k] for s in test if len(s) > k][: p["n_prompts"]]
    if not prompts:
        raise ValueError(f"decode.nmst_vs_st: no held-out sentence longer than {k} tokens for the prompts")
    prompts = torch.tensor(prompts)
    backbone = dict(mixer=p["mixer"], d_model=p["d_model"], n_layers=p["n_layers"])
    build = {
        "softmax": lambda: SequenceModel(vocab_size=v, **backbone),
        "st": lambda: STLanguageModel(v, S.EOS, epsilon=p["epsilon"], **backbone),
        "nmst": lambda: NMSTLanguageModel(v, S.EOS, epsilon=p["epsilon"], **backbone),
    }
    out: dict = {"unigram_ppl": S.unigram_perplexity(train, test, v), "vocab_size": v, "n_test": len(test)}
    for name in HEADS:
        with torch.random.fork_rng():
            torch.manual_seed(seed)  # the same initial backbone weights for the three heads
            model = build[name]()
        S.fit_lm(model, train, v, seed=seed, steps=p["steps"], lr=p["lr"], batch_size=p["batch_size"])
        out[f"{name}_ppl"] = S.perplexity(model, test)
        ratios = non_termination(model, prompts, S.EOS, p["max_length"], seed)
        out[f"{name}_nonterm"] = ratios
        out[f"{name}_nonterm_mean"] = sum(ratios.values()) / len(ratios)
        if name == "nmst":
            out["bound_only_ppl"] = S.perplexity(bound_only(model), test)
        out[f"params_{name}"] = sum(q.numel() for q in model.parameters())
    return out
