"""Experiment cells of the embed-models claims (``seqlab.papers.claims_embed_models``).

Both methods are training-free, so a seed draws the *data*: which documents, which query sentence
and where the relevant text sits among the fillers. Each function returns JSON-ready numbers.

- ``embed.lmk_long`` ("LMK > CLS", arXiv 2601.21525): long-passage retrieval with frozen MiniLM.
  From the deduplicated Lee background corpus, ``n_docs`` documents of >= 4 sentences are drawn;
  one sentence of each is the query, the rest of the document (the evidence) is placed at a random
  slot among ``fillers`` whole documents from outside the sample (each filler used once per seed),
  so every passage is long (truncated to MiniLM's 512 positions with the evidence always kept:
  fillers are cut first). MAP of CLS, mean and LMK pooling over the long passages; the short
  passages (the evidence alone) give the control.
- ``embed.kv_lee`` ("KV-Embedding", arXiv 2601.01046): Lee document similarity on a random
  subset of ``n_docs`` of the 50 Lee documents, frozen SmolLM2-135M with the compression prompt;
  Spearman of KV-Embedding (ID-selected layers) and of the same model without re-routing (last
  token, mean, mean+last), plus MiniLM mean pooling (the control) and random vectors.
"""

from __future__ import annotations

import random

import torch

from seqlab.embed.docsim import lee_background, lee_correlation, load_lee, sentences
from seqlab.embed.retrieval import evaluate_rankings, rank_dense
from seqlab.experiments.cell import experiment


def _random_map(n: int, seed: int) -> float:
    g = random.Random(seed)
    rankings = []
    for _ in range(n):
        r = list(range(n))
        g.shuffle(r)
        rankings.append(r)
    return evaluate_rankings(rankings, [[i] for i in range(n)], ks=(1,))["map"]


def lmk_long_data(n_docs: int, fillers: int, seed: int):
    """(queries, long passages, short passages) for one seed (see the module docstring)."""
    docs = list(dict.fromkeys(lee_background()))
    rng = random.Random(seed)
    order = list(range(len(docs)))
    rng.shuffle(order)
    usable = [i for i in order if len(sentences(docs[i])) >= 4]
    if len(usable) < n_docs + n_docs * fillers:
        raise ValueError(f"the Lee corpus has too few documents for {n_docs} docs x {fillers} fillers")
    picked, spare = usable[:n_docs], usable[n_docs:]
    queries, longs, shorts = [], [], []
    for j, i in enumerate(picked):
        s = sentences(docs[i])
        k = rng.randrange(len(s))
        queries.append(s[k])
        evidence = " ".join(s[:k] + s[k + 1 :])
        shorts.append(evidence)
        fill = [docs[f] for f in spare[j * fillers : (j + 1) * fillers]]
        slot = rng.randrange(fillers + 1)
        longs.append((fill[:slot], evidence, fill[slot:]))
    return queries, longs, shorts


def _fit_long(tok, before, evidence, after, budget: int) -> str:
    """Cut the fillers (outer ends first) until the whole passage fits ``budget`` tokens."""
    n_ev = len(tok(evidence, add_special_tokens=False)["input_ids"])
    left = " ".join(before).split()
    right = " ".join(after).split()

    def size(words_):
        return len(tok(" ".join(words_), add_special_tokens=False)["input_ids"]) if words_ else 0

    while size(left) + size(right) + n_ev > budget and (left or right):
        if size(left) >= size(right):
            left = left[max(1, len(left) // 10) :]
        else:
            right = right[: len(right) - max(1, len(right) // 10)]
    return " ".join([*left, evidence, *right]).strip()


@experiment("embed.lmk_long")
def lmk_long(params: dict, seed: int) -> dict:
    import seqlab.lm
    from seqlab.embed.pooling import PooledEncoder

    n_docs, fillers, every = int(params["n_docs"]), int(params["fillers"]), int(params["every"])
    budget = int(params.get("budget", 440))  # content tokens; + ceil(440 / 32) landmarks + CLS <= 512
    lm = seqlab.lm.load("minilm-l6")
    queries, longs, shorts = lmk_long_data(n_docs, fillers, seed)
    passages = [_fit_long(lm.tokenizer, b, e, a, budget) for b, e, a in longs]
    gold = [[i] for i in range(n_docs)]
    out: dict = {"n_docs": n_docs, "random": _random_map(n_docs, seed)}
    lengths = [len(x) for x in lm.tokenizer(passages, add_special_tokens=False)["input_ids"]]
    out["passage_tokens"] = sum(lengths) / len(lengths)
    for pooling in ("cls", "mean", "lmk"):
        enc = PooledEncoder(lm, pooling, every=every)
        q = enc.encode(queries)
        out[pooling] = evaluate_rankings(rank_dense(q, enc.encode(passages)), gold)["map"]
        if pooling == "mean":
            out["mean_short"] = evaluate_rankings(rank_dense(q, enc.encode(shorts)), gold)["map"]
    return out


@experiment("embed.kv_lee")
def kv_lee(params: dict, seed: int) -> dict:
    import seqlab.lm
    from seqlab.embed.kv_embedding import KVEmbedding, kv_pool
    from seqlab.embed.pooling import PooledEncoder

    n_docs = int(params["n_docs"])
    lee = load_lee()
    index = sorted(random.Random(seed).sample(range(len(lee.documents)), n_docs))
    texts = [lee.documents[i] for i in index]
    lm = seqlab.lm.load("smollm2-135m")
    emb = KVEmbedding(lm, width=params.get("width"), pool="kv")
    # one plain pass gives the ID layer choice and the three no-re-routing baselines
    per_layer, pooled = None, {p: [] for p in ("last", "mean", "mean+last")}
    for ids, mask in emb._batches(texts):
        hs = emb.runner.hidden_states(ids, mask)
        lasts = [h[:, -1] for h in hs[1:]]
        per_layer = lasts if per_layer is None else [torch.cat([a, b]) for a, b in zip(per_layer, lasts)]
        for p in pooled:
            pooled[p].append(kv_pool(hs[-1], mask, p))
    from seqlab.embed.kv_embedding import select_layers, twonn_dimension

    emb.layer_ids = [twonn_dimension(x) for x in per_layer]
    emb.layers = select_layers(emb.layer_ids, emb.width)
    out: dict = {"layers": emb.layers, "layer_ids": emb.layer_ids, "n_docs": n_docs}
    out["kv"] = lee_correlation(emb.encode(texts), index)["spearman"]
    for p, parts in pooled.items():
        out[p] = lee_correlation(torch.cat(parts), index)["spearman"]
    minilm = PooledEncoder(seqlab.lm.load("minilm-l6"), "mean")
    out["minilm_mean"] = lee_correlation(minilm.encode(texts), index)["spearman"]
    g = torch.Generator().manual_seed(seed)
    out["random"] = lee_correlation(torch.randn(n_docs, 64, generator=g), index)["spearman"]
    return out
