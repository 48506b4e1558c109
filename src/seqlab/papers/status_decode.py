"""Judgements of the decoding papers (module decode: pointer networks, sentence recovery, prompt
waywardness, AriEL, the NMST head), merged into :data:`seqlab.papers.status.STATUS`."""

from seqlab.papers.status import IMPLEMENTED, PARTIAL, Judgement

STATUS = {
    "Pointer Networks": Judgement(
        IMPLEMENTED,
        "pointer_network model (additive-attention pointer over the inputs, LSTM decoder, optional mask "
        "of chosen inputs and a stop row), pointer decoder (greedy and beam search over valid outputs, "
        "tested against exhaustive enumeration); tasks sorting, convex_hull (exact monotone chain, area "
        "coverage) and tsp (exact Held-Karp, nearest-neighbour / 2-opt baselines); claims "
        "pointer_networks, pointer_convex_hull, pointer_tsp. The Delaunay triangulation task is not built",
    ),
    "Can Unconditional Language Models Recover Arbitrary Sentences?": Judgement(
        PARTIAL,
        "sentence_recovery decoder (seqlab.decode.recovery.recover): z in a reparametrized space "
        "through a fixed random W, optimised by Adam against a frozen LM, greedy decoding; the paper's "
        "injection into a recurrent LM, inject='state' (W z added as a bias to every layer's hidden and "
        "cell state before every step, tested against the LSTM cell equations), besides input-level "
        "and attention (key/value) injections; claims sentence_recovery_recurrent (LSTM word LM, "
        "recovery rate vs size of z), sentence_recovery_transformer, and sentence_recovery_smollm2 "
        "(exact recovery vs size of z on the pretrained SmolLM2-135M); missing: beam-search decoding "
        "from z and the paper's large pretrained LSTM LM (a 2-layer, width-128 LSTM trained here on the "
        "Lee corpus; the pretrained model here is a transformer)",
    ),
    "Discovering Useful Sentence Representations from Large Pretrained Language Models": Judgement(
        PARTIAL,
        "sentence_recovery decoder: the three injection sites -- embedding (z added to every input), "
        "a k-vector input prefix, and attention: inject='kv', z mapped into a key/value slot of every "
        "layer (seqlab.decode.recovery_kv; transformers' KV cache for seqlab.lm models, the KV-cache "
        "state for attention SequenceModels; reference-checked against running a real prompt, "
        "gradient-checked); claims sentence_recovery_transformer (transformer word LM) and "
        "sentence_recovery_smollm2 (pretrained SmolLM2-135M, Lee-corpus sentences, kv injection); "
        "missing: the paper's other sentence <-> representation mappings and its GPT-2-scale models "
        "and multi-genre corpora",
    ),
    "Prompt Waywardness: The Curious Case of Discretized Interpretation of Continuous Prompts": Judgement(
        IMPLEMENTED,
        "prompt_waywardness decoder (seqlab.decode.waywardness): continuous prompt tuning on a frozen "
        "LM, nearest-token projection, the waywardness objective (task loss + gamma * distance to a "
        "target text), prompt F1; prompts started from token embeddings; claim prompt_waywardness on a "
        "toy multi-task LM and prompt_waywardness_smollm2 on the frozen SmolLM2-135M (movie-review "
        "sentiment, two arbitrary target texts; seqlab.decode.waywardness_smollm2)",
    ),
    "AriEL: volume coding for sentence generation": Judgement(
        IMPLEMENTED,
        "ariel decoder (seqlab.decode.ariel): sentence <-> box of [0,1]^d by arithmetic coding over the "
        "LM's next-token probabilities, axes in turn (k-d tree); exact round trip, uniform sampling; "
        "claim ariel_uniform_sampling on a toy grammar",
    ),
    "A Non-monotonic Self-terminating Language Model": Judgement(
        PARTIAL,
        "nmst_lm head (seqlab.models.nmst: EOS probability (1 - lambda_t) f_lb(t) + lambda_t, tested against "
        "its bound and with every decoder) and the self-terminating LM it relaxes, st_lm (Welleck et al., "
        "arXiv 2002.02492: 1 - p(eos) the running product of (1 - eps) sigmoid(u_eos . h), tested against a "
        "plain loop and for a monotone EOS probability); claims 'nmst' (softmax vs NMST non-termination "
        "under greedy / beam / top-k / nucleus, epsilon 0.01) and 'nmst_vs_st' (softmax vs ST vs NMST: "
        "perplexity and non-termination, epsilon 0.001; seqlab.decode.nmst_experiment), word GRU LMs on "
        "gensim's Lee corpus; missing: the paper's scale -- WikiText-2 / WikiText-103 (not shipped offline) "
        "and fine-tuning a pretrained LM with the NMST head (GPT-2 in the paper; SmolLM2 is too slow to "
        "fine-tune on this CPU)",
    ),
}
