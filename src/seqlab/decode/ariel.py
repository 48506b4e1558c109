"""AriEL: sentences <-> volumes of [0, 1]^d through a language model's next-token probabilities.

Paper: "AriEL: volume coding for sentence generation" (Celotti, Brodeur, Rouat; arXiv preprint,
March 2020 -- the id could not be checked offline, so the registry names the venue).

AriEL joins arithmetic coding with a k-d tree. A sentence ``w_1 .. w_n`` (EOS appended) is coded
token by token; token ``i`` (0-based) splits axis ``k = i mod d`` of the current box. With
``p = softmax(LM logits after BOS w_1 .. w_i)`` in vocabulary order and ``c_v = sum_{u < v} p_u``
(cumulative, ``c_V = 1``), the box's interval ``[lo_k, hi_k)`` on that axis shrinks to

    lo_k' = lo_k + (hi_k - lo_k) c_{w},   hi_k' = lo_k + (hi_k - lo_k) c_{w + 1}

so the sentence owns a box of volume ``prod_i p(w_i | w_<i)`` -- its probability under the LM. The
boxes of all sentences tile the cube. :func:`encode` returns the box and its centre;
:func:`decode` inverts it for any point ``x``: at step ``i`` on axis ``k`` the token is the ``v`` with
``c_v <= u < c_{v+1}``, ``u = (x_k - lo_k) / (hi_k - lo_k)``, until EOS or ``max_length`` tokens.
Encoding then decoding the centre returns the sentence (exact round trip, any LM whose
probabilities are all positive). A uniformly drawn point lands in a sentence's box with that
sentence's probability, so uniform sampling of the cube generates sentences distributed as the LM
(each axis's successive relative positions are independent uniforms): every point decodes to a
sentence, and most of the volume belongs to likely -- for a well-trained LM, valid -- sentences.

The arithmetic is float64; probabilities are the LM's float32 logits softmaxed in float64.
Works on any causal model with ``logits``, ``prefill`` and ``step`` (``SequenceModel``; SmolLM2).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import torch

from seqlab.registry import Paper, experiment, register

PAPER = Paper(
    "AriEL: volume coding for sentence generation",
    venue="arXiv preprint, March 2020 (Celotti, Brodeur, Rouat)",
)


class Box(NamedTuple):
    """A sentence's volume: ``low``, ``high`` ``(d,)`` float64 and its ``point`` (the centre)."""

    low: torch.Tensor
    high: torch.Tensor
    point: torch.Tensor


def _check_lm(lm, dim, who):
    if not getattr(lm, "is_causal", False):
        raise ValueError(f"{who} needs a causal language model (next-token probabilities); got an encoder")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"{who} expects dim (the number of axes) an int >= 1, got {dim!r}")


def _cumulative(logits: torch.Tensor) -> torch.Tensor:
    """``(B, V + 1)`` float64 cumulative probabilities ``c_0 = 0 .. c_V = 1``."""
    p = torch.softmax(logits.double(), -1)
    c = torch.cat([torch.zeros_like(p[:, :1]), p.cumsum(-1)], -1)
    c[:, -1] = 1.0
    return c


@torch.no_grad()
def encode(lm, tokens, dim: int, *, bos_token_id: int, eos_token_id: int | None = None) -> Box:
    """The box of one sentence ``tokens`` (ids without BOS; EOS appended when missing and
    ``eos_token_id`` is set)."""
    _check_lm(lm, dim, "ariel.encode")
    toks = [int(t) for t in (tokens.tolist() if isinstance(tokens, torch.Tensor) else tokens)]
    eos = lm.eos_token_id if eos_token_id is None else eos_token_id
    if eos is not None and (not toks or toks[-1] != int(eos)):
        toks.append(int(eos))
    if not toks:
        raise ValueError("ariel.encode expects a non-empty sentence")
    v = int(lm.vocab_size)
    if min(toks) < 0 or max(toks) >= v:
        raise ValueError(f"ariel.encode expects token ids in [0, {v}), got {min(toks)}..{max(toks)}")
    ids = torch.tensor([[int(bos_token_id), *toks[:-1]]], dtype=torch.long)
    c = _cumulative(lm.logits(ids)[0].float())  # (n, V + 1): row i codes token i
    low = torch.zeros(dim, dtype=torch.float64)
    high = torch.ones(dim, dtype=torch.float64)
    for i, w in enumerate(toks):
        k = i % dim
        width = high[k] - low[k]
        low[k], high[k] = low[k] + width * c[i, w], low[k] + width * c[i, w + 1]
    return Box(low, high, (low + high) / 2)


@register(
    "decoder",
    "ariel",
    implements=PAPER,
    used_by=[PAPER.title],
    description="AriEL: sentence <-> volume of [0,1]^d by arithmetic coding over the LM's probabilities, "
    "axes taken in turn (k-d tree)",
)
@torch.no_grad()
def decode(
    lm, points: torch.Tensor, *, bos_token_id: int, eos_token_id: int | None = None, max_length: int = 32
) -> list[list[int]]:
    """The sentences (token lists, EOS included when reached) of ``points`` ``(B, d)`` in [0, 1]^d."""
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or not points.is_floating_point():
        raise ValueError(f"ariel.decode expects float points of shape (batch, dim), got {points!r}")
    _check_lm(lm, points.shape[1], "ariel.decode")
    if not bool(torch.isfinite(points).all()) or bool((points < 0).any()) or bool((points > 1).any()):
        raise ValueError("ariel.decode expects points inside [0, 1]^d (finite)")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"ariel.decode expects max_length an int >= 1, got {max_length!r}")
    eos = lm.eos_token_id if eos_token_id is None else eos_token_id
    b, dim = points.shape
    x = points.double().clamp(max=1.0 - 1e-16)
    low = torch.zeros(b, dim, dtype=torch.float64)
    high = torch.ones(b, dim, dtype=torch.float64)
    rows = torch.arange(b)
    logits, state = lm.prefill(torch.full((b, 1), int(bos_token_id), dtype=torch.long))
    out = torch.zeros(b, 0, dtype=torch.long)
    done = torch.zeros(b, dtype=torch.bool)
    for i in range(max_length):
        k = i % dim
        c = _cumulative(logits)
        width = high[:, k] - low[:, k]
        u = ((x[:, k] - low[:, k]) / width).clamp(0.0, 1.0)
        tok = (torch.searchsorted(c, u[:, None], right=True)[:, 0] - 1).clamp(0, c.shape[1] - 2)
        new_low = low[:, k] + width * c[rows, tok]
        high[:, k] = low[:, k] + width * c[rows, tok + 1]
        low[:, k] = new_low
        out = torch.cat([out, tok[:, None]], 1)
        if eos is not None:
            done |= tok == int(eos)
            if bool(done.all()):
                break
        if i + 1 < max_length:
            logits, state = lm.step(tok, state)
    result = []
    for row in out.tolist():
        if eos is not None and int(eos) in row:
            row = row[: row.index(int(eos)) + 1]
        result.append(row)
    return result


def sample(lm, n: int, dim: int, *, generator: torch.Generator, **kw) -> tuple[torch.Tensor, list[list[int]]]:
    """``n`` uniform points of [0, 1]^dim and their sentences (:func:`decode` keywords in ``kw``)."""
    if not isinstance(generator, torch.Generator):
        raise ValueError("ariel.sample needs generator=torch.Generator() (explicit randomness)")
    points = torch.rand(n, dim, generator=generator, dtype=torch.float64)
    return points, decode(lm, points, **kw)


# -- the toy grammar and the experiment of the claim ---------------------------------------------
# A small agreement grammar (the paper benchmarks on a toy grammar whose sentences can be checked):
#   S  -> NP_sg V_sg NP | NP_pl V_pl NP        NP -> NP_sg | NP_pl,   optionally followed by P NP
#   NP_sg -> D_sg A^{0..2} N_sg                 NP_pl -> D_pl A^{0..2} N_pl
WORDS = {
    "D1": ["a", "one", "this"],
    "D2": ["two", "these", "some"],
    "A": ["red", "big", "old", "small"],
    "N1": ["cat", "dog", "bird"],
    "N2": ["cats", "dogs", "birds"],
    "V1": ["sees", "likes", "chases"],
    "V2": ["see", "like", "chase"],
    "P": ["near", "with"],
}
GRAMMAR_BOS, GRAMMAR_EOS = 0, 1
GRAMMAR_VOCAB = ["<s>", "</s>", *(w for ws in WORDS.values() for w in ws)]
_CATEGORY = {2 + i: c for i, (c, w) in enumerate((c, w) for c, ws in WORDS.items() for w in ws)}
_VALID = re.compile(
    r"^(?:(?:D1 (?:A ){0,2}N1 V1)|(?:D2 (?:A ){0,2}N2 V2)) (?:D1 (?:A ){0,2}N1|D2 (?:A ){0,2}N2)"
    r"(?: P (?:D1 (?:A ){0,2}N1|D2 (?:A ){0,2}N2))?$"
)


def grammar_sentence(g: torch.Generator) -> list[int]:
    """One sentence of the toy grammar (token ids, no BOS/EOS), drawn with ``g``."""
    index = {w: i for i, w in enumerate(GRAMMAR_VOCAB)}

    def pick(cat):
        ws = WORDS[cat]
        return index[ws[int(torch.randint(len(ws), (), generator=g))]]

    def np_(num):
        adj = [pick("A") for _ in range(int(torch.randint(3, (), generator=g)))]
        return [pick(f"D{num}"), *adj, pick(f"N{num}")]

    num = 1 + int(torch.randint(2, (), generator=g))
    out = [*np_(num), pick(f"V{num}"), *np_(1 + int(torch.randint(2, (), generator=g)))]
    if float(torch.rand((), generator=g)) < 0.5:
        out += [pick("P"), *np_(1 + int(torch.randint(2, (), generator=g)))]
    return out


def is_grammatical(tokens) -> bool:
    """Whether ``tokens`` (ids, an optional final EOS) is a sentence of the toy grammar."""
    toks = list(map(int, tokens))
    if not toks or toks[-1] != GRAMMAR_EOS:
        return False  # unterminated
    cats = [_CATEGORY.get(t) for t in toks[:-1]]
    return None not in cats and bool(_VALID.match(" ".join(cats)))


@experiment("decode.ariel")
def ariel_experiment(params: dict, seed: int) -> dict:
    """Train a small LM on toy-grammar sentences; uniformly sample points of [0, 1]^dim and decode them
    with AriEL: fraction grammatical, unique, and new (not training sentences); baselines: uniformly
    random tokens and unigram-frequency tokens with the training length distribution; round trip
    exactness on held-out sentences; LM and unigram perplexities."""
    from seqlab.decode import small_lm as S

    p = {
        "n_train": 2000,
        "n_test": 200,
        "n_samples": 500,
        "dim": 16,
        "lm_steps": 300,
        "d_model": 64,
        **params,
    }
    g = torch.Generator().manual_seed(seed)
    v = len(GRAMMAR_VOCAB)
    data = [[GRAMMAR_BOS, *grammar_sentence(g), GRAMMAR_EOS] for _ in range(p["n_train"] + p["n_test"])]
    train, test = data[: p["n_train"]], data[p["n_train"] :]
    lm = S.train_word_lm(train, v, seed=seed, d_model=p["d_model"], steps=p["lm_steps"], cache_key="ariel")
    kw = dict(bos_token_id=GRAMMAR_BOS, eos_token_id=GRAMMAR_EOS)
    _, sents = sample(lm, p["n_samples"], p["dim"], generator=g, max_length=32, **kw)
    seen = {tuple(s[1:]) for s in train}
    ok = [is_grammatical(s) for s in sents]
    boxes = [encode(lm, s[1:-1], p["dim"], **kw) for s in test[:50]]
    back = decode(lm, torch.stack([b.point for b in boxes]), max_length=32, **kw)
    lengths = torch.tensor([len(s) - 1 for s in train])  # words + EOS
    counts = torch.bincount(torch.tensor([t for s in train for t in s[1:]]), minlength=v).double()

    def random_rate(probs):
        n = lengths[torch.randint(len(lengths), (p["n_samples"],), generator=g)]
        rows = [[*torch.multinomial(probs, int(k) - 1, True, generator=g).tolist(), GRAMMAR_EOS] for k in n]
        return sum(map(is_grammatical, rows)) / len(rows)

    words = torch.ones(v, dtype=torch.float64)
    words[[GRAMMAR_BOS, GRAMMAR_EOS]] = 0
    unigram = counts.clone()
    unigram[[GRAMMAR_BOS, GRAMMAR_EOS]] = 0
    return {
        "grammatical": sum(ok) / len(ok),
        "unique": len({tuple(s) for s in sents}) / len(sents),
        "new_grammatical": sum(1 for s, o in zip(sents, ok, strict=True) if o and tuple(s) not in seen)
        / len(sents),
        "random_tokens_grammatical": random_rate(words),
        "unigram_tokens_grammatical": random_rate(unigram),
        "round_trip_exact": sum(b == s[1:] for b, s in zip(back, test[:50], strict=True)) / len(back),
        "perplexity": S.perplexity(lm, test),
        "unigram_perplexity": S.unigram_perplexity(train, test, v),
    }
