"""Judgements of the decode papers built in seqlab.decode.seq3 and seqlab.decode.se2."""

from seqlab.papers.status import IMPLEMENTED, Judgement

STATUS = {
    "SEQ^3: Differentiable Sequence-to-Sequence-to-Sequence Autoencoder for Unsupervised Abstractive "
    "Sentence Compression": Judgement(
        IMPLEMENTED,
        "decoder seq3: compressor -> reconstructor sharing one embedding, straight-through Gumbel-softmax "
        "words, countdown length control, LM prior (KL to a frozen word LM) and topic loss; claims "
        "seq3_reconstruction / seq3_readability vs first-k and random-k on the Lee corpus",
    ),
    "Se^2: Sequential Example Selection for In-Context Learning": Judgement(
        IMPLEMENTED,
        "decoder se2: sequential selection of demonstrations by beam search scored by the LM's gold-label "
        "probability; decoder se2_retriever: the retriever trained on that LM feedback (a bi-encoder over "
        "frozen MiniLM features, listwise contrastive on LM-scored candidate lists, every other "
        "candidate a negative) and the per-query sequential beam search at test time; claims se2_icl "
        "and se2_retriever_icl on SmolLM2 vs random, MiniLM nearest-neighbour and zero-shot. Smaller "
        "than the paper: a linear bi-encoder on frozen features (not a fine-tuned encoder), 8 feedback "
        "queries, one task",
    ),
}
