"""Which catalog papers seqlab implements: one hand-kept judgement per paper, in one table.

A catalog (seed) paper is

* ``implemented`` when its own method exists in seqlab and is tested -- a registered component
  declares ``implements=Paper(<that title>, ...)``;
* ``partial`` when part of its method exists; the note says what is missing;
* ``not implemented`` otherwise, even when it builds on components seqlab has (a paper that merely
  uses a generic VQ codebook or EWC is not implemented by ``vq`` or ``ewc``).

Components name the papers that use them with ``used_by=`` at registration; that link is computed
(:func:`seqlab.papers.paper_rows`). The judgement is not: it is written here, per paper, after reading
the paper's method against the code, and the tests hold it to the registry (an ``implemented`` paper
must have a component implementing it; a paper some component credits must be judged here).
A paper absent from this table and credited by no component is ``not implemented``.
"""

from __future__ import annotations

from dataclasses import dataclass

IMPLEMENTED, PARTIAL, NOT_IMPLEMENTED = "implemented", "partial", "not implemented"
STATUSES = (IMPLEMENTED, PARTIAL, NOT_IMPLEMENTED)


@dataclass(frozen=True)
class Judgement:
    status: str
    note: str  # what exists; for partial / not implemented, what is missing

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.status != IMPLEMENTED and "missing" not in self.note:
            raise ValueError(f"a {self.status} judgement must say what is missing: {self.note!r}")


def _j(status: str, note: str) -> Judgement:
    return Judgement(status, note)


STATUS: dict[str, Judgement] = {
    # -- mixers ------------------------------------------------------------------------------------
    "Combining Recurrent, Convolutional, and Continuous-time Models with Linear State-Space Layers": _j(
        IMPLEMENTED, "lssl: dense HiPPO-LegS SSM; recurrent and convolutional views agree (tests/mixers)"
    ),
    "CKConv: Continuous Kernel Convolution For Sequential Data": _j(
        IMPLEMENTED, "ckconv: SIREN kernel generator, FFT convolution, irregular sampling via times="
    ),
    "GateLoop: Fully Data-Controlled Linear Recurrence for Sequence Modeling": _j(
        IMPLEMENTED, "gateloop: scan, recurrent and surrogate-attention modes agree"
    ),
    "Efficiently Modeling Long Sequences with Structured State Spaces": _j(
        IMPLEMENTED, "s4: DPLR HiPPO-LegS, Cauchy + Woodbury kernel (s4d implements the later S4D paper)"
    ),
    "Recurrent Memory Transformer": _j(IMPLEMENTED, "rmt: memory tokens, segment-level recurrence"),
    "Samba: Simple Hybrid State Space Models for Efficient Unlimited Context Language Modeling": _j(
        IMPLEMENTED, "samba: Mamba -> MLP -> sliding-window attention -> MLP unit"
    ),
    "Your Transformer May Not be as Powerful as You Expect": _j(
        IMPLEMENTED, "urpe positional encoding inside attention (Toeplitz-weighted probabilities)"
    ),
    "Inverse Approximation Theory for Nonlinear Recurrent Neural Networks": _j(
        IMPLEMENTED, "rnn mixer's stable reparameterisation (W = -P^T diag(softplus(w)) P)"
    ),
    "Randomized Positional Encodings Boost Length Generalization of Transformers": _j(
        IMPLEMENTED,
        "SequenceModel(randomized_positions=M) over sinusoidal/learned/RoPE/ALiBi; the 15 Chomsky tasks; "
        "claim randomized_pe",
    ),
    "On the Universality of Linear Recurrences Followed by Nonlinear Projections": _j(
        PARTIAL, "lru/s5 + position-wise MLP blocks exist; missing: the paper's approximation experiment"
    ),
    "On the Expressivity of Selective State-Space Layers: A Multivariate Polynomial Approach": _j(
        PARTIAL, "mamba and linear_attention exist; missing: the multivariate-polynomial target experiment"
    ),
    "A Critical Review of Recurrent Neural Networks for Sequence Learning": _j(
        PARTIAL,
        "a survey with no method of its own: Elman, LSTM and GRU mixers (uni-/bidirectional) exist; "
        "missing: the other architectures it reviews (e.g. neural Turing machines)",
    ),
    "Beyond the Limits: A Survey of Techniques to Extend the Context Length in Large Language Models": _j(
        PARTIAL,
        "a survey: RoPE with position interpolation, ALiBi and randomized positions exist; missing: "
        "NTK-aware/YaRN scaling, memory- and retrieval-based extension, and any LLM to extend",
    ),
    # -- distributed -------------------------------------------------------------------------------
    "DSP: Dynamic Sequence Parallelism for Multi-Dimensional Transformers": _j(
        IMPLEMENTED,
        "spatiotemporal_transformer scheme='dsp': the shard switches between time and space by all-to-all; "
        "beside Ulysses and ring attention, equal to one process on 2 and 4 ranks (tests/parallel)",
    ),
    # -- tasks -------------------------------------------------------------------------------------
    "Memory-Based Meta-Learning on Non-Stationary Distributions": _j(
        IMPLEMENTED,
        "nonstationary task with the exact Bayes-optimal log loss; claim nonstationary_meta_learning",
    ),
    "Algorithm Development in Neural Networks: Insights from the Streaming Parity Task": _j(
        IMPLEMENTED, "streaming_parity task (train 1..T, test to 10T); claim streaming_parity"
    ),
    "RNNs are not Transformers (Yet): The Key Bottleneck on In-context Retrieval": _j(
        PARTIAL,
        "mqar (zoology's generator) with attention vs recurrent mixers; missing: the IsTree task and the "
        "retrieval-augmented (in-context RAG) variant",
    ),
    "Understanding and Improving Length Generalization in Recurrent Models": _j(
        PARTIAL,
        "noise and foreign-final-state initialisation (seqlab.train.state_init) with data-dependent "
        "recurrences on the text_lm task; missing: its fitted-noise and truncated-BPTT interventions",
    ),
    "HiPPO-Prophecy: State-Space Models can Provably Learn Dynamical Systems in Context": _j(
        PARTIAL,
        "dynamics task (in-context next state) with trained SSMs; missing: the paper's HiPPO weight "
        "construction, i.e. its actual method",
    ),
    "Order Matters: Sequence to sequence for sets": _j(
        PARTIAL,
        "pointer_network's read-process-write set encoder on the sorting task; missing: the order-search "
        "training loss",
    ),
    # -- decode ------------------------------------------------------------------------------------
    "Diverse Beam Search: Decoding Diverse Solutions from Neural Sequence Models": _j(
        IMPLEMENTED,
        "diverse_beam decoder: beam groups with a Hamming diversity penalty; one group at strength 0 equals "
        "beam search (tests/decode)",
    ),
    # -- tokenize ----------------------------------------------------------------------------------
    (
        "Neural Discrete Token Representation Learning for Extreme Token Reduction in Video "
        "Large Language Models"
    ): _j(
        PARTIAL,
        "vqtoken: adaptive k-means codebook + token hash + TokDense on synthetic token grids; missing: the "
        "video LLM it compresses for",
    ),
    (
        "Enhancing Generalization in Vision-Language-Action Models by Preserving Pretrained Representations"
    ): _j(
        PARTIAL,
        "string-actions tokenizer (actions <-> characters, exact round trip); missing: the VLA model, its "
        "dual visual encoders and co-training",
    ),
    "REOrdering Patches Improves Vision Models": _j(
        IMPLEMENTED,
        "patch-order (row/column/snake/Hilbert) and the Plackett-Luce ordering policy (REINFORCE)",
    ),
    "PRISE: Learning Temporal Action Abstractions as a Sequence Compression Problem": _j(
        PARTIAL,
        "prise: VQ of actions + byte-pair merges into skills; missing: the action encoder's pretraining and "
        "the policy learned over skill tokens",
    ),
    "Tokenize Image as a Set": _j(
        PARTIAL,
        "token-set: the set <-> fixed-sum count-sequence bijection; missing: the set image tokenizer and "
        "fixed-sum discrete diffusion",
    ),
    "Beyond Orthography: Automatic Recovery of Short Vowels and Dialectal Sounds in Arabic": _j(
        NOT_IMPLEMENTED,
        "only the generic VQ codebook it could use exists; missing: speech SSL features and the ASR model",
    ),
    "To be Continuous, or to be Discrete, Those are Bits of Questions": _j(
        NOT_IMPLEMENTED,
        "lfq (MAGVIT-v2 sign bits) is a different method; missing: structured contrastive hashing",
    ),
    # -- continual ---------------------------------------------------------------------------------
    "Three scenarios for continual learning": _j(
        IMPLEMENTED, "split/permuted protocols, task/domain/class-IL, its baselines and strategies"
    ),
    "Continuous Learning in a Hierarchical Multiscale Neural Network": _j(
        NOT_IMPLEMENTED,
        "only the EWC consolidation it uses exists; missing: the hierarchical multiscale RNN with "
        "meta-learned fast weights",
    ),
    "CL2R: Compatible Lifelong Learning Representations": _j(
        IMPLEMENTED,
        "cl2r strategy (fixed simplex head + replay + feature distillation), compatibility metrics",
    ),
    (
        "Stationary Representations: Optimally Approximating Compatibility and Implications for "
        "Improved Model Replacements"
    ): _j(
        PARTIAL,
        "simplex strategy (fixed d-simplex classifier) and the compatibility matrix; missing: the "
        "model-replacement experiment with a downloaded pretrained model",
    ),
    "A Simple Baseline that Questions the Use of Pretrained-Models in Continual Learning": _j(
        PARTIAL,
        "nmc on frozen features; missing: a large pretrained encoder (the encoder is pretrained inside the "
        "run on scikit-learn digits)",
    ),
    "Prototype-Sample Relation Distillation: Towards Replay-Free Continual Learning": _j(
        IMPLEMENTED, "prd: SupCon features, class prototypes, prototype-sample relation distillation"
    ),
    "IF2Net: Innately Forgetting-Free Networks for Continual Learning": _j(
        IMPLEMENTED, "if2net: frozen random layer, output weights by orthogonal-projection RLS"
    ),
    "Center Loss Regularization for Continual Learning": _j(
        IMPLEMENTED, "center_loss and center_loss_replay"
    ),
    "Transformers for Supervised Online Continual Learning": _j(
        IMPLEMENTED, "online_transformer: in-context transformer over recent (x, y) + reservoir replay"
    ),
    "A Comprehensive Empirical Evaluation on Online Continual Learning": _j(
        PARTIAL,
        "online streams, reservoir replay, stability metric; missing: most of the methods it "
        "compares and its linear-probe representation-quality evaluation",
    ),
    (
        "Fly-CL: A Fly-Inspired Framework for Enhancing Efficient Decorrelation and Reduced Training Time "
        "in Pre-trained Model-based Continual Representation Learning"
    ): _j(IMPLEMENTED, "fly_cl: sparse random expansion, top-k winner-take-all, prototype similarity"),
    "RECALL: REpresentation-aligned Catastrophic-forgetting ALLeviation via Hierarchical Model Merging": _j(
        IMPLEMENTED, "recall_merge: layer-wise merging weighted by representation (CKA) similarity, MLP scale"
    ),
    "RECALL: Rehearsal-free Continual Learning for Object Classification": _j(
        IMPLEMENTED, "recall: new head per task, old logits regressed with the variance-scaled loss"
    ),
    "Self-Expansion of Pre-trained Models with Mixture of Adapters for Continual Learning": _j(
        IMPLEMENTED, "sema: adapters with PCA representation descriptors, expandable router"
    ),
    "Continual Learning of Large Language Models: A Comprehensive Survey": _j(
        NOT_IMPLEMENTED,
        "only a stream of small sequence-classification tasks exists; missing: any continual pre-training "
        "or fine-tuning of a language model",
    ),
}


def _module_status() -> dict[str, Judgement]:
    """Judgements kept beside a module's claims: every ``seqlab.papers.status_<module>`` has ``STATUS``.

    A title judged in two places is an error (move the entry, never shadow it).
    """
    import importlib
    import pkgutil

    import seqlab.papers as pkg

    out: dict[str, Judgement] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("status_"):
            for title, j in importlib.import_module(f"{pkg.__name__}.{info.name}").STATUS.items():
                if title in out or title in STATUS:
                    raise ValueError(f"paper {title!r} is judged twice ({info.name})")
                out[title] = j
    return out


STATUS.update(_module_status())


def judgement(title: str) -> Judgement:
    """The judgement for a catalog title (``not implemented`` when the table has none)."""
    return STATUS.get(title, Judgement(NOT_IMPLEMENTED, "missing: no component"))
