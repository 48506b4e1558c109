"""Judgements of the decode papers built in seqlab.decode.seq3 and seqlab.decode.se2."""

from seqlab.papers.status import IMPLEMENTED, PARTIAL, Judgement

STATUS = {
    "SEQ^3: Differentiable Sequence-to-Sequence-to-Sequence Autoencoder for Unsupervised Abstractive "
    "Sentence Compression": Judgement(
        IMPLEMENTED,
        "decoder seq3: compressor -> reconstructor sharing one embedding, straight-through Gumbel-softmax "
        "words, countdown length control, LM prior (KL to a frozen word LM) and topic loss; claims "
        "seq3_reconstruction / seq3_readability vs first-k and random-k on the Lee corpus",
    ),
    "Se^2: Sequential Example Selection for In-Context Learning": Judgement(
        PARTIAL,
        "decoder se2: sequential selection of demonstrations by beam search scored by the LM's gold-label "
        "probability (on a development split), vs random and MiniLM nearest-neighbour selection, claim "
        "se2_icl on SmolLM2; missing: the retriever trained on that LM feedback (contrastive, with hard "
        "negatives) that the paper uses to select per test query",
    ),
}
