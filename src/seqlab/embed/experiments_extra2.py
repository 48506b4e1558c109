"""Experiment cell of the DenoSent claim (``seqlab.papers.claims_embed_extra2``).

* ``embed.denosent_denoise_retrieval`` -- "DenoSent: A Denoising Objective for Self-Supervised Sentence
  Representation Learning" (2401.13621): a small :class:`~seqlab.embed.denosent.DenoSent` (``d`` 64,
  2 + 2 layers, ``steps`` AdamW steps, batch 32) is trained on the Lee background sentences. ``n``
  sentences of at least 8 words are drawn by the seed; each is noised with the model's own discrete
  noise (token deletion p 0.15, local shuffle within 3 positions, fresh seeded draws) and the noised
  sentence's embedding retrieves among the ``n`` clean embeddings by cosine similarity. The figure is
  top-1 accuracy (chance ``1/n``). Baselines in the same cell: the same encoder architecture untrained
  (same vocabulary, fresh seeded initialisation) and the mean of random word vectors (a bag of words,
  which deletion and shuffling barely move). Control: clean sentences retrieving themselves with the
  trained model (the embeddings are distinct at all).
"""

from __future__ import annotations

import random

import torch

from seqlab.experiments.cell import experiment


def top1(queries: torch.Tensor, keys: torch.Tensor) -> float:
    """Fraction of rows ``i`` whose most cosine-similar key is key ``i``."""
    q = torch.nn.functional.normalize(queries.float(), dim=-1)
    k = torch.nn.functional.normalize(keys.float(), dim=-1)
    return float(((q @ k.T).argmax(1) == torch.arange(len(q))).float().mean())


@experiment("embed.denosent_denoise_retrieval")
def denosent_denoise_retrieval(params: dict, seed: int) -> dict:
    """Noised -> clean top-1 retrieval of DenoSent vs untrained encoder vs random bag (module doc)."""
    from seqlab.embed.denosent import DenoSent, TextEncoder, lee_sentences, words

    p = dict(steps=200, n=200, d=64, min_words=8)
    p.update({k: params[k] for k in p if k in params})
    torch.manual_seed(seed)
    sents = lee_sentences()
    pool = [s for s in sents if len(words(s)) >= p["min_words"]]
    if len(pool) < p["n"]:
        raise ValueError(f"only {len(pool)} sentences with >= {p['min_words']} words; need n={p['n']}")
    gen = torch.Generator().manual_seed(seed)
    chosen = [pool[i] for i in torch.randperm(len(pool), generator=gen)[: p["n"]].tolist()]
    model = DenoSent(d=p["d"], steps=p["steps"], seed=seed).fit(sents)
    rng = random.Random(1000 + seed)
    vocab = model.vocab
    noised_words = []
    for s in chosen:
        ids = vocab.ids(s, model.cfg["max_len"])
        noised_words.append(" ".join(vocab.itos[i] for i in model.noised(ids, rng)) or vocab.itos[ids[0]])
    clean_text = [" ".join(vocab.itos[i] for i in vocab.ids(s, model.cfg["max_len"])) for s in chosen]
    clean = model.encode(clean_text)
    out = {"denosent": top1(model.encode(noised_words), clean), "control_clean": top1(clean, clean)}
    untrained = DenoSent(d=p["d"], steps=1, seed=seed)
    untrained.vocab = vocab
    torch.manual_seed(seed + 1)
    untrained.encoder = TextEncoder(len(vocab), p["d"], untrained.cfg["layers"])
    untrained.eval()
    out["untrained"] = top1(untrained.encode(noised_words), untrained.encode(clean_text))
    rv = torch.randn(len(vocab), p["d"], generator=gen)

    def bag(t: str) -> torch.Tensor:
        return rv[vocab.ids(t) or [0]].mean(0)

    out["random_bag"] = top1(
        torch.stack([bag(t) for t in noised_words]), torch.stack([bag(t) for t in clean_text])
    )
    out["chance"] = 1.0 / p["n"]
    return out
