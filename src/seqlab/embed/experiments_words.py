"""Experiment cells of the word-embedding claims (``seqlab.papers.claims_embed_words``).

* ``embed.w2v_vs_gensim`` -- "Efficient Estimation of Word Representations in Vector Space" (1301.3781)
  with the negative sampling of 1310.4546: seqlab's skip-gram and gensim's on ``head500.noblanks.cor``
  with the same hyperparameters, both scored on WordSim353 (stemmed pairs) and SimLex-999; plus the
  Spearman of *untrained* vectors (seqlab's random initialisation) as the trivial baseline.
* ``embed.order_probe`` -- "CBOW Is Not All You Need" (1902.06423): CBOW, CMOW and the hybrid trained
  identically (same objective, optimiser, steps) on a generated Markov language, then two linear probes on
  fresh sentences: *bigram shift* (were two adjacent words swapped? needs word order; CBOW is at chance
  by construction) and *word content* (does the sentence contain a given word? CBOW's strength).
  The untrained hybrid (identity + noise matrices, random vectors) is probed too.
"""

from __future__ import annotations

import torch

from seqlab.embed.cmow import MatrixEmbedder
from seqlab.experiments.cell import experiment


@experiment("embed.w2v_vs_gensim")
def w2v_vs_gensim(params: dict, seed: int) -> dict:
    import time

    from gensim.models import Word2Vec as GWord2Vec

    from seqlab.embed import data, evaluate
    from seqlab.embed.word2vec import Word2Vec

    hp = dict(vector_size=100, window=5, negative=5, min_count=5, epochs=5, sample=1e-3)
    hp.update({k: params[k] for k in hp if k in params})
    corpus = data.head500(max_len=1000)
    ws, sl = data.wordsim353(), data.simlex999()
    out: dict = {}
    t0 = time.process_time()
    ours = Word2Vec(sg=True, seed=seed, threads=1, **hp).fit(corpus)
    out["seqlab_cpu_s"] = time.process_time() - t0
    out["seqlab_ws353"] = evaluate.word_similarity(ours, ws, stem=True)["spearman"]
    out["seqlab_simlex"] = evaluate.word_similarity(ours, sl, stem=True)["spearman"]
    t0 = time.process_time()
    g = GWord2Vec(corpus, sg=1, hs=0, seed=seed, workers=1, **hp)
    out["gensim_cpu_s"] = time.process_time() - t0

    class _KV:
        key_to_index = g.wv.key_to_index
        vectors = torch.from_numpy(g.wv.vectors.copy())

    out["gensim_ws353"] = evaluate.word_similarity(_KV, ws, stem=True)["spearman"]
    out["gensim_simlex"] = evaluate.word_similarity(_KV, sl, stem=True)["spearman"]
    gen = torch.Generator().manual_seed(seed)

    class _Random:
        key_to_index = ours.key_to_index
        vectors = torch.rand(len(ours.key_to_index), hp["vector_size"], generator=gen) - 0.5

    r = evaluate.word_similarity(_Random, ws, stem=True)
    out["random_ws353"], out["pairs"] = r["spearman"], r["pairs_used"]
    return out


# -- the order probe -----------------------------------------------------------------------------------
def markov_language(vocab: int, successors: int, gen: torch.Generator) -> torch.Tensor:
    """``(vocab, successors)`` allowed next words of each word (uniform among them)."""
    return torch.stack([torch.randperm(vocab, generator=gen)[:successors] for _ in range(vocab)])


def sample_sentences(table: torch.Tensor, n: int, length: int, gen: torch.Generator) -> torch.Tensor:
    v, s = table.shape
    out = torch.empty(n, length, dtype=torch.long)
    out[:, 0] = torch.randint(0, v, (n,), generator=gen)
    for t in range(1, length):
        out[:, t] = table[out[:, t - 1], torch.randint(0, s, (n,), generator=gen)]
    return out


def bigram_shift_set(sents: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Half the sentences get two adjacent (different) words swapped; label 1 = swapped."""
    x = sents.clone()
    n, length = x.shape
    label = torch.zeros(n, dtype=torch.long)
    label[torch.randperm(n, generator=gen)[: n // 2]] = 1
    for i in torch.nonzero(label).squeeze(1).tolist():
        ok = [p for p in range(length - 1) if x[i, p] != x[i, p + 1]]
        if not ok:
            label[i] = 0
            continue
        p = ok[int(torch.randint(0, len(ok), (1,), generator=gen))]
        x[i, p], x[i, p + 1] = x[i, p + 1].clone(), x[i, p].clone()
    return x, label


def word_content_set(table, n, length, gen) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Balanced sentences with / without a probe word (the most frequent word's neighbour in rank)."""
    pool = sample_sentences(table, 8 * n, length, gen)
    counts = torch.bincount(pool.reshape(-1), minlength=table.shape[0])
    word = int(counts.argsort(descending=True)[table.shape[0] // 4])  # a mid-frequency word
    has = (pool == word).any(1)
    pos, neg = pool[has][: n // 2], pool[~has][: n // 2]
    x = torch.cat([pos, neg])
    y = torch.cat([torch.ones(len(pos), dtype=torch.long), torch.zeros(len(neg), dtype=torch.long)])
    perm = torch.randperm(len(x), generator=gen)
    return x[perm], y[perm], word


def linear_probe(train_x, train_y, test_x, test_y, steps: int = 300, seed: int = 0) -> float:
    """Logistic regression (standardised features, Adam, L2 1e-3); test accuracy."""
    mu, sd = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    a, b = (train_x - mu) / sd, (test_x - mu) / sd
    torch.manual_seed(seed)
    lin = torch.nn.Linear(a.shape[1], 2)
    opt = torch.optim.Adam(lin.parameters(), lr=0.05, weight_decay=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(lin(a), train_y).backward()
        opt.step()
    with torch.no_grad():
        return float((lin(b).argmax(1) == test_y).float().mean())


def _encode(model: MatrixEmbedder, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.encode_ids(ids)


@experiment("embed.order_probe")
def order_probe(params: dict, seed: int) -> dict:
    p = dict(vocab=60, successors=3, corpus=3000, length=12, probe=3000, probe_length=8, epochs=8, window=2)
    p.update(params)
    gen = torch.Generator().manual_seed(seed)
    table = markov_language(p["vocab"], p["successors"], gen)
    corpus_ids = sample_sentences(table, p["corpus"], p["length"], gen)
    corpus = [[f"w{i}" for i in row] for row in corpus_ids.tolist()]
    bx, by = bigram_shift_set(sample_sentences(table, p["probe"], p["probe_length"], gen), gen)
    cx, cy, _ = word_content_set(table, p["probe"], p["probe_length"], gen)
    split_b, split_c = len(bx) * 2 // 3, len(cx) * 2 // 3
    sizes = {"cbow": 128, "cmow": 121, "hybrid": 128}  # CMOW: 11 x 11, the square nearest 128
    out: dict = {}
    for mode in ("cbow", "cmow", "hybrid", "untrained_hybrid"):
        kind = "hybrid" if mode == "untrained_hybrid" else mode
        m = MatrixEmbedder(
            mode=kind,
            vector_size=sizes[kind],
            window=p["window"],
            negative=5,
            min_count=1,
            epochs=p["epochs"],
            lr=3e-3,
            batch_size=128,
            seed=seed,
        )
        if mode == "untrained_hybrid":
            _untrained(m, corpus, seed)
        else:
            m.fit(corpus)
        # the model's word ids follow its vocabulary order
        remap = torch.tensor([m.key_to_index[f"w{i}"] for i in range(p["vocab"])])
        eb, ec = _encode(m, remap[bx]), _encode(m, remap[cx])
        acc_b = linear_probe(eb[:split_b], by[:split_b], eb[split_b:], by[split_b:], seed=seed)
        acc_c = linear_probe(ec[:split_c], cy[:split_c], ec[split_c:], cy[split_c:], seed=seed)
        out[f"{mode}_bshift"], out[f"{mode}_content"] = acc_b, acc_c
        out[f"{mode}_mean"] = (acc_b + acc_c) / 2
    return out


def _untrained(m: MatrixEmbedder, corpus, seed: int) -> None:
    """Vocabulary and initial parameters only (the random-encoder baseline)."""
    from seqlab.embed.vocab import Vocab, count_words

    counts, _, _ = count_words(corpus)
    vocab = Vocab(counts, 1)
    m.vocab, m.index_to_key, m.key_to_index = vocab, vocab.words, vocab.index
    m._init_params(len(vocab), torch.Generator().manual_seed(seed))
