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
* ``embed.nugget_selection_reconstruction`` -- "Nugget: Neural Agglomerative Embeddings of Text"
  (2310.01732): a small :class:`~seqlab.embed.nugget.Nugget` (``d`` 64, ratio 0.25, ``steps`` steps) is
  trained by autoencoding on the Lee background sentences; on ``n`` seeded sentences of at least 8 words
  the decoder's teacher-forced reconstruction loss (nats per token) is measured from the scorer's top-k
  token states and from a random subset of the same size (states and scores taken at the random
  positions, text order). The figure is the gain ``loss_random - loss_selected``; baseline: the same gain
  for the first k tokens in place of the selection; control: training lowered the selected loss by at
  least 1 nat from the untrained model's.
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


def _subset_loss(model, rows: list[list[int]], pick) -> float:
    """Mean reconstruction loss when each row keeps the token states at ``pick(row_index, n, k)``."""
    from seqlab.embed.denosent import pad_rows, reconstruction_loss
    from seqlab.embed.nugget import nugget_count

    total = 0.0
    with torch.no_grad():
        for i, r in enumerate(rows):
            ids, mask = pad_rows([r])
            h = model.encoder(ids, mask)
            s = model.scorer(h).squeeze(-1)
            k = int(nugget_count(torch.tensor([len(r)]), model.cfg["ratio"])[0])
            idx = torch.tensor(sorted(pick(i, len(r), k, s[0])))[None]
            states = h.gather(1, idx[..., None].expand(-1, -1, h.shape[-1]))
            total += float(reconstruction_loss(model.decoder, ids, states, None, s.gather(1, idx)))
    return total / len(rows)


@experiment("embed.nugget_selection_reconstruction")
def nugget_selection_reconstruction(params: dict, seed: int) -> dict:
    """Reconstruction loss from Nugget's selected tokens vs a random / first-k subset (module doc)."""
    from seqlab.embed.denosent import lee_sentences, words
    from seqlab.embed.nugget import Nugget

    p = dict(steps=200, n=200, d=64, min_words=8)
    p.update({k: params[k] for k in p if k in params})
    sents = lee_sentences()
    pool = [s for s in sents if len(words(s)) >= p["min_words"]]
    if len(pool) < p["n"]:
        raise ValueError(f"only {len(pool)} sentences with >= {p['min_words']} words; need n={p['n']}")
    gen = torch.Generator().manual_seed(seed)
    chosen = [pool[i] for i in torch.randperm(len(pool), generator=gen)[: p["n"]].tolist()]
    untrained = Nugget(d=p["d"], seed=seed)
    torch.manual_seed(seed)
    model = Nugget(d=p["d"], steps=p["steps"], seed=seed).fit(sents)
    untrained.build(model.vocab).eval()
    rows = [model.vocab.ids(s, model.cfg["max_len"]) for s in chosen]
    rand_pos = [torch.randperm(len(r), generator=gen).tolist() for r in rows]

    def top(i, n, k, s):
        return s.topk(k).indices.tolist()

    selected = _subset_loss(model, rows, top)
    random_ = _subset_loss(model, rows, lambda i, n, k, s: rand_pos[i][:k])
    first = _subset_loss(model, rows, lambda i, n, k, s: list(range(k)))
    return {
        "selected_loss": selected,
        "random_loss": random_,
        "first_k_loss": first,
        "untrained_selected_loss": _subset_loss(untrained, rows, top),
    }
