"""Judgements of the continuous-vector decoding papers (module decode: sentence recovery, prompt
waywardness, AriEL), merged into :data:`seqlab.papers.status.STATUS`."""

from seqlab.papers.status import IMPLEMENTED, PARTIAL, Judgement

STATUS = {
    "Can Unconditional Language Models Recover Arbitrary Sentences?": Judgement(
        PARTIAL,
        "sentence_recovery decoder (seqlab.decode.recovery.recover): z in a reparametrized space "
        "through a fixed random W, injected into a frozen LM (added to every input, or as a prefix), "
        "optimised by Adam, greedy decoding (recovery rate vs size of z measured on a transformer word "
        "LM, claim sentence_recovery_transformer); missing: the paper's bias injection into the LSTM's "
        "hidden and cell states (seqlab injects at the input), a claim on a recurrent LM (not run this "
        "round), beam-search decoding from z and its pretrained news LMs",
    ),
    "Discovering Useful Sentence Representations from Large Pretrained Language Models": Judgement(
        PARTIAL,
        "sentence_recovery decoder: embedding injection (z added to every input) and a k-vector "
        "prefix, on any model with forward_embeds (SequenceModel, SmolLM2); claim "
        "sentence_recovery_transformer on a transformer word LM; missing: injection into every "
        "layer's attention keys/values and the paper's other sentence <-> representation mappings",
    ),
    "Prompt Waywardness: The Curious Case of Discretized Interpretation of Continuous Prompts": Judgement(
        IMPLEMENTED,
        "prompt_waywardness decoder (seqlab.decode.waywardness): continuous prompt tuning on a frozen "
        "LM, nearest-token projection, the waywardness objective (task loss + gamma * distance to a "
        "target text), prompt F1; claim prompt_waywardness on a toy multi-task LM",
    ),
    "AriEL: volume coding for sentence generation": Judgement(
        IMPLEMENTED,
        "ariel decoder (seqlab.decode.ariel): sentence <-> box of [0,1]^d by arithmetic coding over the "
        "LM's next-token probabilities, axes in turn (k-d tree); exact round trip, uniform sampling; "
        "claim ariel_uniform_sampling on a toy grammar",
    ),
}
