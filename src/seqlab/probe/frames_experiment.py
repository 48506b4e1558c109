"""Top-k concept-guided decoding on SmolLM2 (arXiv 2412.07334), measured on held-out concept words.

Per seed: the 10 concepts of ``probe/data/frame_concepts.json`` (dinosaurs, diseases, chemical
elements, instruments, professions, emotions, sports, weather, furniture, vehicles; ~30 words each).
Each concept's words of at most ``k`` tokens (with a leading space) are split at random into halves: the
*guide* half builds the concept frame that steers decoding, the *held-out* half builds a second frame
that only scores the generated text (so the figure is not the quantity the decoder maximised). Token
vectors are SmolLM2's unembedding in the causal inner product. ``n_prompts`` Lee-corpus sentence
openings (``prompt_tokens`` tokens) are continued by ``max_new_tokens`` tokens, one row per (concept,
prompt), with:

- ``guided``: top-k concept-guided decoding with the concept's guide frame (the paper's rule);
- ``sampled``: plain top-k sampling (same ``top_k``, temperature 1), the reference;
- ``random``: guided by a random orthonormal frame (Gaussian, polar factor);
- ``other``: guided by another concept's guide frame (the next concept in a seeded cycle);
- ``greedy``.

A text's score under a frame is the mean standardised token score (:func:`token_concept_scores`, units
of the vocabulary's standard deviation). Reported gains are means over rows of the held-out score of a
method minus that of ``sampled``; ``control_gain`` is the same under the guide frame itself (the steering
works on what it optimises). ``full_rank_fraction``: multi-token words whose frame has rank ``k``.
"""

from __future__ import annotations

import json
from importlib import resources

import torch

from seqlab.experiments.cell import experiment
from seqlab.probe.concepts import causal_unembedding
from seqlab.probe.frames import (
    concept_frame,
    concept_guided,
    frame_rank,
    orthonormal_frame,
    text_concept_score,
    token_concept_scores,
    word_frame,
)

FRAMES_DEFAULTS = {
    "model": "smollm2-135m",
    "k": 2,
    "top_k": 8,
    "n_prompts": 4,
    "prompt_tokens": 6,
    "max_new_tokens": 12,
}


def load_frame_concepts() -> dict[str, list[str]]:
    """``{concept: [words]}`` from the shipped ``probe/data/frame_concepts.json``."""
    text = resources.files("seqlab.probe").joinpath("data/frame_concepts.json").read_text()
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def concept_words(tokenizer, k: int) -> dict[str, list[list[int]]]:
    """``{concept: [token ids of each word]}`` for the shipped concepts' words of at most ``k`` tokens
    (tokenised with a leading space)."""
    out = {}
    for name, words in load_frame_concepts().items():
        ids = [tokenizer.encode(" " + w, add_special_tokens=False) for w in words]
        out[name] = [t for t in ids if len(t) <= k]
    return out


def split_concepts(words: dict[str, list[list[int]]], k: int, gen: torch.Generator):
    """(guide, held-out) halves of each concept's words; each half keeps >= 1 word of ``k`` tokens (so
    its concept frame has rank ``k``)."""
    guide, held = {}, {}
    for name, ws in words.items():
        long = [w for w in ws if len(w) == k]
        short = [w for w in ws if len(w) < k]
        if len(long) < 2:
            raise ValueError(f"concept {name!r} has {len(long)} words of {k} tokens; need >= 2 to split")
        halves = []
        for group in (long, short):
            order = torch.randperm(len(group), generator=gen).tolist()
            halves.append(([group[i] for i in order[::2]], [group[i] for i in order[1::2]]))
        guide[name] = halves[0][0] + halves[1][0]
        held[name] = halves[0][1] + halves[1][1]
    return guide, held


def _frames(g: torch.Tensor, words: dict[str, list[list[int]]], k: int) -> torch.Tensor:
    return torch.stack([concept_frame([word_frame(g, w) for w in ws], k) for ws in words.values()])


def guided_decoding_of(lm, g: torch.Tensor, prompts: torch.Tensor, params: dict, seed: int) -> dict:
    """The measurements of the module docstring from token vectors ``g (V, d)`` and ``prompts (P, T)``."""
    k, top_k, new = params["k"], params["top_k"], params["max_new_tokens"]
    gen = torch.Generator().manual_seed(seed)
    words = concept_words(lm.tokenizer, k)
    guide, held = split_concepts(words, k, gen)
    C_guide, C_held = _frames(g, guide, k), _frames(g, held, k)
    n_c, P = len(guide), prompts.shape[0]
    shift = 1 + int(torch.randint(n_c - 1, (1,), generator=gen))
    C_other = C_guide.roll(shift, 0)
    C_random = torch.stack(
        [
            orthonormal_frame(torch.randn(g.shape[1], k, generator=gen, dtype=torch.float64))
            for _ in range(n_c)
        ]
    )
    rep = lambda C: C.repeat_interleave(P, 0)  # noqa: E731  (one row per concept x prompt)
    s_guide, s_held = token_concept_scores(g, rep(C_guide)), token_concept_scores(g, rep(C_held))
    ids = prompts.repeat(n_c, 1)
    T = ids.shape[1]
    opts = {"max_new_tokens": new, "eos_token_id": None}
    out = {
        "guided": concept_guided(lm, ids, s_guide, top_k=top_k, **opts),
        "random": concept_guided(lm, ids, token_concept_scores(g, rep(C_random)), top_k=top_k, **opts),
        "other": concept_guided(lm, ids, token_concept_scores(g, rep(C_other)), top_k=top_k, **opts),
        "sampled": lm_sample(lm, ids, top_k, new, gen),
        "greedy": concept_guided(lm, ids, s_guide, top_k=top_k, weight=0.0, **opts),
    }
    held_score = {m: text_concept_score(s_held, x[:, T:]) for m, x in out.items()}
    guide_score = {m: text_concept_score(s_guide, x[:, T:]) for m, x in out.items()}
    multi = [w for ws in words.values() for w in ws if len(w) > 1]
    full = sum(frame_rank(word_frame(g, w)) == len(w) for w in multi)

    def gain(m, table=held_score):
        return float((table[m] - table["sampled"]).mean())

    return {
        "gain": gain("guided"),
        "random_gain": gain("random"),
        "other_gain": gain("other"),
        "greedy_gain": gain("greedy"),
        "control_gain": gain("guided", guide_score),
        "heldout_score": {m: float(v.mean()) for m, v in held_score.items()},
        "full_rank_fraction": full / len(multi),
        "multi_token_words": len(multi),
        "rows": int(ids.shape[0]),
        "example": lm.decode(out["guided"][:1, T:])[0],
    }


def lm_sample(lm, ids, top_k: int, new: int, gen: torch.Generator) -> torch.Tensor:
    from seqlab.decode import generate

    return generate(lm, ids, "sample", top_k=top_k, max_new_tokens=new, eos_token_id=None, generator=gen)


@experiment("probe.frame_guided_decoding")
def frame_guided_decoding(params: dict, seed: int) -> dict:
    from seqlab.lm import load
    from seqlab.probe.experiments import _subsample, lee_sentences

    p = {**FRAMES_DEFAULTS, **params}
    lm = load(p["model"])
    gamma = lm.model.get_output_embeddings().weight.detach()
    g, _, _ = causal_unembedding(gamma)
    texts = [s for s in lee_sentences() if len(lm.tokenizer.encode(s)) > p["prompt_tokens"]]
    chosen = _subsample(texts, p["n_prompts"], seed)
    prompts = torch.tensor([lm.tokenizer.encode(s)[: p["prompt_tokens"]] for s in chosen])
    return guided_decoding_of(lm, g, prompts, p, seed)
