"""Judgements of the word-embedding papers (seqlab.embed: word2vec, fasttext, sent2vec, cmow, hybrid)."""

from __future__ import annotations

from seqlab.papers.status import IMPLEMENTED, Judgement

STATUS = {
    "Efficient Estimation of Word Representations in Vector Space": Judgement(
        IMPLEMENTED,
        "word2vec: CBOW and continuous skip-gram (tests/embed/test_words_word2vec.py), trained with this "
        "paper's hierarchical softmax over a Huffman tree (hs=1, negative=0; tests/embed/test_words_huffman"
        ".py) or the follow-up paper's negative sampling; 3CosAdd analogies in seqlab.embed.evaluate",
    ),
    "Distributed Representations of Words and Phrases and their Compositionality": Judgement(
        IMPLEMENTED,
        "word2vec: negative sampling with unigram^0.75 noise, frequent-word subsampling, phrase detection "
        "score (count(ab) - delta) / (count(a) count(b)) in seqlab.embed.vocab; each tested against its "
        "formula; hierarchical softmax over a Huffman tree (seqlab.embed.huffman: code lengths vs a direct "
        "Huffman construction, update vs autograd; head500 row vs gensim hs=1 in benchmarks/embed_words.py)",
    ),
    "Enriching Word Vectors with Subword Information": Judgement(
        IMPLEMENTED,
        "fasttext: character 3-6-grams of <word>, FNV-1a hashing into buckets (matches gensim's hash), "
        "word = mean of word and n-gram vectors, vectors for unseen words",
    ),
    "Unsupervised Learning of Sentence Embeddings using Compositional n-Gram Features": Judgement(
        IMPLEMENTED,
        "sent2vec: unigram + hashed bigram features, whole-sentence context minus the target, sqrt-frequency "
        "negatives, target subsampling, and the n-gram dropout of training (dropout_k positions per context, "
        "the bigrams touching them dropped; distribution and update checked against the reference rule and "
        "autograd); evaluated on Lee document similarity (benchmarks/embed_docs.py), not on the paper's "
        "SentEval tasks, which do not ship offline",
    ),
    "CBOW Is Not All You Need: Combining CBOW with the Compositional Matrix Space Model": Judgement(
        IMPLEMENTED,
        "cmow and hybrid: ordered products of identity-initialised word matrices, random-target word2vec "
        "objective, hybrid = [CBOW mean ; CMOW] trained jointly; claim hybrid_cbow_cmow_probes",
    ),
}
