"""One runner per registered probe for ``seqlab probe NAME --model ...`` (issue 13, "Done means").

Each runner takes a loaded model -- a pretrained :func:`seqlab.lm.load` model (SmolLM2, MiniLM) or a
:class:`~seqlab.models.SequenceModel` checkpoint -- and :class:`Options`, and returns a
:class:`ProbeRun`: a table (header + rows), the series / bars / heat map to plot, and JSON-ready data.
Default inputs are short: a few sentences of gensim's Lee corpus for a model with a tokenizer, seeded
random token sequences otherwise. A probe that cannot apply to the model (concept geometry without a
tokenizer and an unembedding, MambaLRP without Mamba mixers, the interaction operator without seqlab
mixers, ...) raises :class:`ProbeNotApplicable` naming what it needs.

The math lives in the probe modules; this file only chooses inputs and summarises.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from seqlab.probe.extract import check_layer, layer_states


class ProbeNotApplicable(ValueError):
    """The probe needs something the chosen model does not have (the message names it)."""


@dataclass
class Options:
    """What the command line passes to a runner."""

    model: str = "smollm2-135m"
    prompts: int = 6
    length: int = 12
    layer: int | None = None
    seed: int = 0
    other: str | None = None  # a second model (concatenated_runs)
    model_config: dict | None = None


@dataclass
class ProbeRun:
    header: list[str]
    rows: list[list]
    series: dict[str, list[float]] = field(default_factory=dict)
    bars: dict[str, float] = field(default_factory=dict)
    heatmap: list[list[float]] | None = None
    xlabel: str = "layer"
    data: dict = field(default_factory=dict)
    note: str = ""


# -- model helpers -----------------------------------------------------------------------------------------
def has_tokenizer(lm) -> bool:
    return getattr(lm, "tokenizer", None) is not None and hasattr(lm, "encode")


def unembedding(lm, probe: str) -> torch.Tensor:
    """The ``(V, d)`` output-embedding matrix of a pretrained causal LM with a tokenizer."""
    if not has_tokenizer(lm):
        raise ProbeNotApplicable(
            f"{probe} needs a model with a tokenizer (its concepts are words), e.g. smollm2-135m; "
            f"a SequenceModel checkpoint has token ids only"
        )
    hf = getattr(lm, "model", None)
    head = hf.get_output_embeddings() if hf is not None and hasattr(hf, "get_output_embeddings") else None
    if head is None or not getattr(lm, "is_causal", False):
        raise ProbeNotApplicable(
            f"{probe} needs a causal LM with an unembedding (output head), e.g. smollm2-135m; "
            f"{type(lm).__name__} is an encoder without one"
        )
    return head.weight.detach()


def seqlab_blocks(lm, probe: str, what: str = "seqlab mixers"):
    blocks = getattr(lm, "blocks", None)
    if not isinstance(blocks, torch.nn.ModuleList):
        raise ProbeNotApplicable(
            f"{probe} needs a SequenceModel checkpoint (its {what}); {type(lm).__name__} is a pretrained "
            f"model whose blocks are not seqlab mixers"
        )
    return blocks


def lee_texts(n: int, seed: int) -> list[str]:
    from seqlab.probe.experiments import _subsample, lee_sentences

    return _subsample(lee_sentences(), n, seed)


def inputs(lm, opt: Options) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(ids, mask)``: Lee sentences for a tokenizer model, seeded random ids otherwise."""
    if has_tokenizer(lm):
        return lm.encode(lee_texts(opt.prompts, opt.seed))
    g = torch.Generator().manual_seed(opt.seed)
    return torch.randint(0, lm.vocab_size, (opt.prompts, opt.length), generator=g), None


def fixed_length(lm, opt: Options, length: int | None = None) -> torch.Tensor:
    """``(P, length)`` ids without padding: Lee sentences cut to ``length`` tokens, or random ids."""
    length = opt.length if length is None else length
    if not has_tokenizer(lm):
        return inputs(lm, opt)[0][:, :length]
    rows = [lm.encode([t]).ids[0, :length] for t in lee_texts(opt.prompts * 3, opt.seed)]
    rows = [r for r in rows if len(r) == length][: opt.prompts]
    if len(rows) < 2:
        raise ValueError(f"fewer than 2 Lee sentences have {length} tokens: lower --length")
    return torch.stack(rows)


def last_positions(lm, ids, mask) -> torch.Tensor:
    if mask is not None and getattr(lm, "padding_side", "left") == "right":
        return mask.long().sum(1) - 1
    return torch.full((ids.shape[0],), ids.shape[1] - 1, dtype=torch.long)


def _f(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


# -- per-layer metrics -------------------------------------------------------------------------------------
def _per_layer(name: str, values: dict[str, list[float]], data_key: str | None = None) -> ProbeRun:
    n = max(len(v) for v in values.values())
    rows = [[i, *[_f(v[i]) if i < len(v) else "-" for v in values.values()]] for i in range(n)]
    return ProbeRun(["layer", *values], rows, series=values, data={data_key or name: values})


def run_layers(lm, opt: Options) -> ProbeRun:
    """Every intermediate-layer metric (flow, entropy, curvature, augmentation invariance)."""
    from seqlab.probe.layers import curvature, layer_flow, layer_metrics, prompt_entropy

    if has_tokenizer(lm):
        m = layer_metrics(lm, lee_texts(opt.prompts, opt.seed), seed=opt.seed)
    else:
        ids, mask = inputs(lm, opt)
        states = layer_states(lm, ids, mask)
        m = layer_flow(states, mask)
        m["prompt_entropy"] = [prompt_entropy(h, mask) for h in states]
        m["curvature"] = [curvature(h, mask) for h in states]
        m["augmentation_invariance"] = _augmentation(lm, opt, states, mask)
    run = _per_layer("metrics", m)
    return run


def run_layer_flow(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.layers import layer_flow

    ids, mask = inputs(lm, opt)
    return _per_layer("layer_flow", layer_flow(layer_states(lm, ids, mask), mask, seed=opt.seed))


def run_prompt_entropy(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.layers import prompt_entropy

    ids, mask = inputs(lm, opt)
    states = layer_states(lm, ids, mask)
    vals = {f"entropy alpha={a}": [prompt_entropy(h, mask, a) for h in states] for a in (1.0, 2.0)}
    return _per_layer("prompt_entropy", vals)


def run_curvature(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.layers import curvature

    ids, mask = inputs(lm, opt)
    if ids.shape[1] < 3:
        raise ValueError("curvature needs prompts of >= 3 tokens: raise --length")
    return _per_layer(
        "curvature", {"curvature (rad)": [curvature(h, mask) for h in layer_states(lm, ids, mask)]}
    )


def _augmentation(lm, opt: Options, states, mask) -> list[float]:
    """InfoNCE per layer between prompts and perturbed copies: word drops / letter swaps of the text, or
    10% of the random ids replaced (a checkpoint)."""
    from seqlab.probe.layers import augment, augmentation_invariance

    if has_tokenizer(lm):
        texts = lee_texts(opt.prompts, opt.seed)
        a_ids, a_mask = lm.encode([augment(t, opt.seed * 7919 + i) for i, t in enumerate(texts)])
    else:
        ids = inputs(lm, opt)[0]
        g = torch.Generator().manual_seed(opt.seed + 1)
        swap = torch.rand(ids.shape, generator=g) < 0.1
        a_ids = torch.where(swap, torch.randint(0, lm.vocab_size, ids.shape, generator=g), ids)
        a_mask = None
    aug = layer_states(lm, a_ids, a_mask)
    return [augmentation_invariance(a, b, mask, a_mask) for a, b in zip(states, aug)]


def run_augmentation_invariance(lm, opt: Options) -> ProbeRun:
    ids, mask = inputs(lm, opt)
    vals = _augmentation(lm, opt, layer_states(lm, ids, mask), mask)
    run = _per_layer("augmentation_invariance", {"InfoNCE (nats)": vals})
    run.note = f"chance level log(prompts) = {math.log(ids.shape[0]):.4f} nats; lower = more invariant"
    return run


def _view_states(lm, opt: Options, views: int = 3) -> list[list[torch.Tensor]]:
    """Mean-pooled states per view and layer: the prompts and ``views - 1`` perturbed copies (text
    augmentations, or 10% of the random ids replaced for a checkpoint)."""
    from seqlab.probe.layers import augment, pooled

    out = []
    for v in range(views):
        if has_tokenizer(lm):
            texts = lee_texts(opt.prompts, opt.seed)
            if v:
                texts = [augment(t, opt.seed * 7919 + 104729 * v + i) for i, t in enumerate(texts)]
            ids, mask = lm.encode(texts)
        else:
            ids, mask = inputs(lm, opt)
            if v:
                g = torch.Generator().manual_seed(opt.seed * 7919 + v)
                swap = torch.rand(ids.shape, generator=g) < 0.1
                ids = torch.where(swap, torch.randint(0, lm.vocab_size, ids.shape, generator=g), ids)
        out.append([pooled(h, mask) for h in layer_states(lm, ids, mask)])
    return out


def run_lidar(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.view_metrics import view_metrics_of

    m = view_metrics_of(_view_states(lm, opt), opt.seed)
    run = _per_layer("lidar", {"LiDAR": m["lidar"]})
    run.note = f"3 views per prompt; the between-prompt scatter has rank <= prompts - 1 = {opt.prompts - 1}"
    return run


def run_dime(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.view_metrics import max_dime, view_metrics_of

    m = view_metrics_of(_view_states(lm, opt, 2), opt.seed)
    run = _per_layer("dime", {"DiME (bits)": m["dime"]})
    run.note = f"independent views give about 0; at most log2(prompts) = {max_dime(opt.prompts):.3f} bits"
    return run


# -- similarity between layers -----------------------------------------------------------------------------
def _pairwise_layers(lm, opt: Options, fn: Callable, name: str) -> ProbeRun:
    from seqlab.probe.layers import tokens

    ids, mask = inputs(lm, opt)
    toks = [tokens(h, mask) for h in layer_states(lm, ids, mask)]
    nxt = [fn(toks[i], toks[i + 1]) for i in range(len(toks) - 1)]
    last = [fn(t, toks[-1]) for t in toks]
    rows = [[i, _f(nxt[i]) if i < len(nxt) else "-", _f(last[i])] for i in range(len(toks))]
    return ProbeRun(
        ["layer", f"{name}(l, l+1)", f"{name}(l, last)"],
        rows,
        series={f"{name}(l, l+1)": nxt, f"{name}(l, last)": last},
        data={"next": nxt, "last": last, "tokens": int(toks[0].shape[0])},
    )


def run_cka(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.layers import tokens
    from seqlab.probe.similarity import cka

    ids, mask = inputs(lm, opt)
    toks = [tokens(h, mask) for h in layer_states(lm, ids, mask)]
    mat = [[cka(a, b) for b in toks] for a in toks]
    rows = [[i, _f(mat[i][i + 1]) if i + 1 < len(mat) else "-", _f(mat[i][-1])] for i in range(len(mat))]
    return ProbeRun(["layer", "cka(l, l+1)", "cka(l, last)"], rows, heatmap=mat, data={"cka": mat})


def run_svcca(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.similarity import svcca

    return _pairwise_layers(lm, opt, svcca, "svcca")


def run_mutual_knn(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.similarity import mutual_knn

    def fn(x, y):
        return mutual_knn(x, y, k=min(5, len(x) - 1))

    run = _pairwise_layers(lm, opt, fn, "mknn")
    n = run.data["tokens"]
    run.note = (
        f"k = {min(5, n - 1)} over {n} token states; random spaces give about k/N = {min(5, n - 1) / n:.3f}"
    )
    return run


# -- invertibility -----------------------------------------------------------------------------------------
def run_collisions(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.invert import pairwise_collisions

    ids, mask = inputs(lm, opt)
    last = last_positions(lm, ids, mask)
    rows, series = [], []
    for layer, h in enumerate(layer_states(lm, ids, mask)):
        r = pairwise_collisions(h[torch.arange(len(h)), last])
        rows.append([layer, r["pairs"], f"{r['min_distance']:.4g}", r["collisions"]])
        series.append(r["min_distance"])
    return ProbeRun(
        ["layer", "pairs", "min distance", "collisions (<1e-6)"],
        rows,
        series={"min pairwise distance": series},
        data={"min_distance": series, "collisions": sum(r[3] for r in rows)},
    )


def run_sipit(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.invert import fit_linear_inverse, sipit_search

    layer = check_layer(lm, 2 if opt.layer is None else opt.layer)
    ids = fixed_length(lm, opt)
    states = layer_states(lm, ids)
    res = sipit_search(lm, states[layer], layer, order="linear", inverse=fit_linear_inverse(lm, layer, ids))
    rows = [
        [
            i,
            int(res.exact[i].sum()),
            ids.shape[1],
            int(res.checked[i].sum()),
            bool(torch.equal(res.ids[i], ids[i])),
        ]
        for i in range(ids.shape[0])
    ]
    rate = float(res.exact.float().mean())
    cand = res.checked.float().mean(0).tolist()
    return ProbeRun(
        ["prompt", "exact tokens", "tokens", "candidates checked", "recovered"],
        rows,
        series={"mean candidates checked": cand},
        xlabel="position",
        data={
            "layer": layer,
            "recovered": rate,
            "seconds_per_token": res.seconds / res.ids.numel(),
            "candidates": cand,
        },
        note=f"layer {layer}: {100 * rate:.1f}% of tokens recovered exactly, "
        f"{res.seconds / res.ids.numel():.3f} s per token",
    )


# -- over-squashing ----------------------------------------------------------------------------------------
def run_last_token_collapse(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.oversquashing import last_token_collapse

    if has_tokenizer(lm):
        tok = lm.tokenizer
        token = tok.encode(" 1", add_special_tokens=False)[-1]
        prefix = tok.encode("Count the ones:", add_special_tokens=False)
    else:
        token, prefix = 1 % lm.vocab_size, [0]
    lengths = [2**i for i in range(6)]
    layer = -1 if opt.layer is None else opt.layer
    res = last_token_collapse(lm, token, lengths, layer=layer, prefix=prefix)
    rows = [
        [
            r["n"],
            f"{r['l2']:.4g}",
            f"{r['rel']:.4g}",
            f"{r['linf_bf16']:.4g}",
            r["equal_bf16"],
            r["equal_fp16"],
        ]
        for r in res
    ]
    return ProbeRun(
        ["n", "l2(h_n, h_n+1)", "relative", "linf after bf16", "equal bf16", "equal fp16"],
        rows,
        series={"relative distance": [r["rel"] for r in res]},
        xlabel="index of n in " + ",".join(map(str, lengths)),
        data={"rows": res, "token": token, "prefix": prefix, "layer": layer},
    )


# -- continuous time ---------------------------------------------------------------------------------------
def run_continuous_time(lm, opt: Options) -> ProbeRun:
    """Next-token distributions when every token lasts ``s`` time units instead of 1 (KL to ``s = 1``)."""
    from seqlab.probe.continuous import continuous_logits, continuous_time

    ids = fixed_length(lm, opt, min(opt.length, 10))
    scales = [0.25, 0.5, 1.0, 2.0, 4.0]
    if has_tokenizer(lm):
        if not getattr(lm, "is_causal", False):
            raise ProbeNotApplicable(
                "continuous_time needs a causal LM (RoPE attention), e.g. smollm2-135m; the encoder "
                f"{type(lm).__name__} has no next-token logits"
            )

        def logits(s):
            return continuous_logits(lm, ids, torch.full(ids.shape, s))[:, -1].float()
    else:
        seqlab_blocks(lm, "continuous_time", "causal attention mixers")

        def logits(s):
            with torch.no_grad(), continuous_time(lm, torch.full(ids.shape, s, dtype=torch.float64)):
                return lm(ids)[:, -1].float()

    with torch.no_grad():
        ref = logits(1.0)
        plain = lm.logits(ids)[:, -1].float() if hasattr(lm, "logits") else lm(ids)[:, -1].float()
    gap = float((ref - plain).abs().max() / plain.abs().max().clamp_min(1e-12))
    rows, kls = [], []
    logp_ref = ref.log_softmax(-1)
    for s in scales:
        z = logits(s)
        lp = z.log_softmax(-1)
        kl = float((logp_ref.exp() * (logp_ref - lp)).sum(-1).mean())
        agree = float((z.argmax(-1) == ref.argmax(-1)).float().mean())
        rows.append([s, f"{kl:.4g}", f"{agree:.2f}"])
        kls.append(kl)
    return ProbeRun(
        ["duration", "KL(d=1 || d)", "top-1 agreement"],
        rows,
        series={"KL to unit durations": kls},
        xlabel="index of duration in " + ",".join(map(str, scales)),
        data={"scales": scales, "kl": kls, "unit_vs_plain_rel_gap": gap},
        note=f"unit durations reproduce the plain logits within a relative {gap:.2g}",
    )


# -- concepts ----------------------------------------------------------------------------------------------
def _hierarchy_ids(lm):
    from seqlab.probe.concepts import load_hierarchy

    tok = lm.tokenizer
    return {
        top: {sub: [tok.encode(" " + w, add_special_tokens=False)[0] for w in ws] for sub, ws in subs.items()}
        for top, subs in load_hierarchy(tok).items()
    }


def _bars_run(values: dict, note: str = "") -> ProbeRun:
    rows = [[k, _f(v)] for k, v in values.items()]
    bars = {k: float(v) for k, v in values.items() if isinstance(v, (int, float))}
    return ProbeRun(["measure", "value"], rows, bars=bars, data=dict(values), note=note)


def run_concept_geometry(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.concepts_experiment import concept_geometry_of

    gamma = unembedding(lm, "concept_geometry")
    return _bars_run(
        concept_geometry_of(gamma, _hierarchy_ids(lm), 0.8, opt.seed),
        "hierarchical orthogonality: abs_cos near 0 (shuffled hierarchy and raw unembedding as baselines)",
    )


def run_categorical_simplex(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.concepts_simplex import simplex_of

    gamma = unembedding(lm, "categorical_simplex")
    return _bars_run(
        simplex_of(gamma, _hierarchy_ids(lm), 0.8, opt.seed), "vertex accuracy vs its chance level"
    )


def _frames_setup(lm, probe: str, k: int = 2):
    from seqlab.probe.concepts import causal_unembedding
    from seqlab.probe.frames_experiment import concept_words, split_concepts

    gamma = unembedding(lm, probe)
    g, _, _ = causal_unembedding(gamma)
    gen = torch.Generator().manual_seed(0)
    guide, held = split_concepts(concept_words(lm.tokenizer, k), k, gen)
    return gamma, g, guide, held


def run_concept_frame(lm, opt: Options) -> ProbeRun:
    """Frame correlation of held-out words with their own concept frame vs the other concepts' frames."""
    from seqlab.probe.frames import concept_frame, frame_correlation, orthonormal_frame, pad_frame, word_frame

    k = 2
    _, g, guide, held = _frames_setup(lm, "concept_frame", k)
    names = list(guide)
    C = {n: concept_frame([word_frame(g, w) for w in guide[n]], k) for n in names}
    rows, own_all, other_all = [], [], []
    for n in names:
        fr = [orthonormal_frame(pad_frame(word_frame(g, w), k) + 1e-9) for w in held[n] if len(w) == k]
        if not fr:
            continue
        own = sum(frame_correlation(C[n], f) for f in fr) / len(fr)
        other = sum(frame_correlation(C[m], f) for m in names if m != n for f in fr) / (
            len(fr) * (len(names) - 1)
        )
        rows.append([n, len(guide[n]), len(fr), f"{own:.4f}", f"{other:.4f}"])
        own_all.append(own)
        other_all.append(other)
    return ProbeRun(
        ["concept", "guide words", "held-out 2-token words", "corr own frame", "corr other frames"],
        rows,
        bars={"own frame": sum(own_all) / len(own_all), "other frames": sum(other_all) / len(other_all)},
        data={"own": own_all, "other": other_all, "concepts": [r[0] for r in rows]},
    )


def _guided(lm, opt: Options, probe: str, hidden: bool) -> ProbeRun:
    from seqlab.probe.frames import (
        concept_frame,
        concept_guided,
        concept_guided_hidden,
        text_concept_score,
        token_concept_scores,
        word_frame,
    )

    k, new = 2, 6
    gamma, g, guide, held = _frames_setup(lm, probe, k)
    prompts = fixed_length(lm, opt, 6)[: max(1, min(opt.prompts, 2))]
    names = list(guide)[:3]
    rows, gains = [], {}
    T = prompts.shape[1]
    for n in names:
        s_held = token_concept_scores(g, concept_frame([word_frame(g, w) for w in held[n]], k))
        if hidden:
            Craw = concept_frame([word_frame(gamma.double(), w) for w in guide[n]], k)
            direction = Craw.sum(1).float()
            out = concept_guided_hidden(lm, prompts, direction, max_new_tokens=new, eos_token_id=None)
            base = concept_guided_hidden(
                lm, prompts, direction, weight=0.0, max_new_tokens=new, eos_token_id=None
            )
        else:
            s_guide = token_concept_scores(g, concept_frame([word_frame(g, w) for w in guide[n]], k))
            out = concept_guided(lm, prompts, s_guide, max_new_tokens=new, eos_token_id=None)
            base = concept_guided(lm, prompts, s_guide, weight=0.0, max_new_tokens=new, eos_token_id=None)
        sg = float(text_concept_score(s_held, out[:, T:]).mean())
        sb = float(text_concept_score(s_held, base[:, T:]).mean())
        gains[n] = sg - sb
        rows.append([n, f"{sb:.4f}", f"{sg:.4f}", repr(lm.decode(out[:1, T:])[0])])
    return ProbeRun(
        ["concept", "greedy held-out score", "guided held-out score", "guided text (prompt 0)"],
        rows,
        bars=gains,
        data={"gain": gains, "prompts": int(prompts.shape[0]), "new_tokens": new},
        note="gain = guided - greedy mean held-out concept score of the generated tokens",
    )


def run_concept_guided_decoding(lm, opt: Options) -> ProbeRun:
    return _guided(lm, opt, "concept_guided_decoding", hidden=False)


def run_concept_guided_hidden(lm, opt: Options) -> ProbeRun:
    return _guided(lm, opt, "concept_guided_hidden", hidden=True)


# -- attribution -------------------------------------------------------------------------------------------
def _logit_fn(lm):
    if not hasattr(lm, "forward_embeds") or not getattr(lm, "is_causal", True):
        raise ProbeNotApplicable(
            f"attribution of the next-token logit needs a causal LM with forward_embeds; {type(lm).__name__} "
            "is an encoder without an output head"
        )
    return lambda e: lm.forward_embeds(e).logits


def run_integrated_gradients(lm, opt: Options) -> ProbeRun:
    """IG of the predicted next-token logit w.r.t. the input embeddings (zero baseline), per token."""
    from seqlab.probe.lrp import integrated_gradients

    run = _logit_fn(lm)
    ids = fixed_length(lm, opt, min(opt.length, 8))[: min(opt.prompts, 3)]
    with torch.no_grad():
        e = lm.input_embeddings(ids).float()
        target = run(e)[:, -1].argmax(-1)
    rows_idx = torch.arange(len(e))

    def fn(x):
        return run(x)[rows_idx, -1, target]

    ig = integrated_gradients(fn, e, steps=16).sum(-1)  # (P, T)
    with torch.no_grad():
        gap = (ig.sum(1) - (fn(e) - fn(torch.zeros_like(e)))).abs() / fn(e).abs().clamp_min(1e-12)
    share = (ig.abs() / ig.abs().sum(1, keepdim=True)).mean(0)
    rows = [[i, *[f"{float(ig[p, i]):.4g}" for p in range(len(ig))]] for i in range(ig.shape[1])]
    return ProbeRun(
        ["position", *[f"IG prompt {p}" for p in range(len(ig))]],
        rows,
        series={"mean |IG| share": share.tolist()},
        xlabel="position",
        data={"ig": ig.tolist(), "completeness_gap": gap.tolist()},
        note=f"completeness |sum IG - (f(x) - f(0))| / |f(x)|: max {float(gap.max()):.3g} (16 midpoints)",
    )


def run_mamba_lrp(lm, opt: Options) -> ProbeRun:
    from seqlab.mixers.mamba import Mamba
    from seqlab.probe.lrp import relevance

    blocks = seqlab_blocks(lm, "mamba_lrp", "Mamba mixers")
    if not any(isinstance(b.mixer, Mamba) for b in blocks):
        raise ProbeNotApplicable(
            f"mamba_lrp needs a SequenceModel with Mamba mixers (the MambaLRP rules), got {lm.mixer_names}"
        )
    ids = inputs(lm, opt)[0][: min(opt.prompts, 4)]
    with torch.no_grad():
        e = lm.input_embeddings(ids).float()
        target = lm.forward_embeds(e).logits[:, -1].argmax(-1)
    lrp = relevance(lm, e, target, -1, "lrp")
    gxi = relevance(lm, e, target, -1, "gxi")
    gl, gg = lrp.gap(), gxi.gap()
    rows = [
        [p, f"{float(lrp.output[p]):.4g}", f"{float(gl[p]):.3g}", f"{float(gg[p]):.3g}"]
        for p in range(len(ids))
    ]
    return ProbeRun(
        ["prompt", "logit", "LRP conservation gap", "gradient x input gap"],
        rows,
        series={"LRP relevance (prompt 0)": lrp.tokens[0].tolist(), "GxI (prompt 0)": gxi.tokens[0].tolist()},
        xlabel="position",
        data={"lrp_gap": gl.tolist(), "gxi_gap": gg.tolist(), "lrp_tokens": lrp.tokens.tolist()},
    )


# -- interaction operator ----------------------------------------------------------------------------------
def run_interaction_operator(lm, opt: Options) -> ProbeRun:
    from seqlab.probe.operator import interaction

    blocks = seqlab_blocks(lm, "interaction_operator")
    layer = 0 if opt.layer is None else opt.layer
    if not 0 <= layer < len(blocks):
        raise ValueError(
            f"--layer for interaction_operator must be a block index in [0, {len(blocks) - 1}], got {layer}"
        )
    ids = inputs(lm, opt)[0][:1, : min(opt.length, 16)]
    block = blocks[layer]
    with torch.no_grad():
        x = block.norm1(layer_states(lm, ids)[layer])
        it = interaction(block.mixer, x)
        W = it.W
        if it.exact:
            err = float((it.output() - block.mixer(x)).abs().max())
        else:
            err = float("nan")
    maps = W[0] if W.dim() == 4 else (W[0] if W.dim() == 3 else W[0].norm(dim=(-2, -1)))
    maps = maps if maps.dim() == 3 else maps[None]
    rows = []
    for h, m in enumerate(maps[:8]):
        lower = float(m.triu(1).abs().sum() / m.abs().sum().clamp_min(1e-30))
        rows.append(
            [h, f"{float(m.diagonal().abs().mean()):.4g}", f"{float(m.abs().mean()):.4g}", f"{lower:.3g}"]
        )
    heat = maps[0].abs()
    return ProbeRun(
        ["head/channel", "mean |diag|", "mean |W|", "mass above diagonal"],
        rows,
        heatmap=(heat / heat.max().clamp_min(1e-30)).tolist(),
        xlabel="source position j",
        data={
            "structure": it.structure,
            "exact": it.exact,
            "shape": list(W.shape),
            "reconstruction_error": err,
        },
        note=f"layer {layer} ({type(block.mixer).__name__}): W {tuple(W.shape)}, structure {it.structure}, "
        + (f"exact, max |W v - y| = {err:.3g}" if it.exact else "local Jacobian"),
    )


# -- concatenated runs -------------------------------------------------------------------------------------
def run_concatenated_runs(lm, opt: Options) -> ProbeRun:
    """Sentence features of two runs/models and their concatenation: effective rank and CKA with each."""
    from seqlab.probe.extract import PRETRAINED, load_model
    from seqlab.probe.layers import pooled
    from seqlab.probe.similarity import cka

    other = opt.other
    if other is None:
        if opt.model not in PRETRAINED:
            raise ProbeNotApplicable(
                "concatenated_runs needs a second, independently trained run: pass --with <checkpoint>"
            )
        other = next(p for p in PRETRAINED if p != opt.model)
    lm2 = load_model(other, opt.model_config if opt.model not in PRETRAINED else None)
    feats = []
    for m in (lm, lm2):
        ids, mask = inputs(m, opt)
        feats.append(pooled(layer_states(m, ids, mask)[-1], mask).double())
    if feats[0].shape[0] != feats[1].shape[0]:
        raise ValueError("the two models read different numbers of prompts")
    both = torch.cat([(f - f.mean(0)) / f.std().clamp_min(1e-12) for f in feats], 1)

    def erank(x):
        s = torch.linalg.svdvals(x - x.mean(0))
        p = s / s.sum()
        p = p[p > 0]
        return float(torch.exp(-(p * p.log()).sum()))

    named = {opt.model: feats[0], other: feats[1], "concatenation": both}
    rows = [[n, f.shape[1], f"{erank(f):.3f}", f"{cka(f, both):.4f}"] for n, f in named.items()]
    return ProbeRun(
        ["features", "dim", "effective rank", "CKA with concatenation"],
        rows,
        bars={f"erank {n}": erank(f) for n, f in named.items()},
        data={"models": [opt.model, other], "effective_rank": {n: erank(f) for n, f in named.items()}},
    )


# -- onion representations (seqlab.probe.onion, imported when registered) ------------------
def _onion(lm, opt: Options, variant: str) -> ProbeRun:
    """Fit the onion model to the last-token state after ``P = 4`` tokens drawn from a small alphabet (8
    ids: digits for a tokenizer model), decode by peeling on held-out sequences; per-position accuracy
    beside a per-position ridge probe and chance."""
    from seqlab.probe import onion

    P, V, n = 4, 8, max(96, opt.prompts)
    alphabet = (
        torch.tensor([lm.tokenizer.encode(str(d), add_special_tokens=False)[0] for d in range(V)])
        if has_tokenizer(lm)
        else torch.arange(min(V, lm.vocab_size))
    )
    V = len(alphabet)
    g = torch.Generator().manual_seed(opt.seed)
    x = torch.randint(0, V, (n, P), generator=g)
    layer = -1 if opt.layer is None else opt.layer
    h = layer_states(lm, alphabet[x])[layer][:, -1].double()
    tr, te = slice(0, n * 3 // 4), slice(n * 3 // 4, n)
    if variant == "onion_train":
        model = onion.train_onion(h[tr], x[tr], V, steps=100, seed=opt.seed)
    else:
        model = onion.fit_onion(h[tr], x[tr], V, seed=opt.seed)
    dec = onion.decode_onion(model, h[te])
    acc = (dec == x[te]).double().mean(0).tolist()
    lin = onion.linear_probe_accuracy(h[tr], x[tr], h[te], x[te])
    rows = [
        [p, f"{float(model.gamma[p]):.4g}", f"{acc[p]:.3f}", f"{lin[p]:.3f}", f"{1 / V:.3f}"]
        for p in range(P)
    ]
    return ProbeRun(
        ["position", "gamma", "onion decode acc", "linear probe acc", "chance"],
        rows,
        series={"onion decode": acc, "linear probe": lin},
        xlabel="position",
        data={"gamma": model.gamma.tolist(), "onion_accuracy": acc, "linear_accuracy": lin, "alphabet": V},
        note=f"{variant}: {n * 3 // 4} training / {n - n * 3 // 4} held-out {P}-token rows, layer {layer}",
    )


def _onion_runner(variant: str) -> Callable[..., ProbeRun]:
    return lambda lm, opt: _onion(lm, opt, variant)


RUNNERS: dict[str, Callable[..., ProbeRun]] = {
    "layers": run_layers,
    "layer_flow": run_layer_flow,
    "prompt_entropy": run_prompt_entropy,
    "curvature": run_curvature,
    "augmentation_invariance": run_augmentation_invariance,
    "lidar": run_lidar,
    "dime": run_dime,
    "cka": run_cka,
    "svcca": run_svcca,
    "mutual_knn": run_mutual_knn,
    "collision_test": run_collisions,
    "sipit": run_sipit,
    "last_token_collapse": run_last_token_collapse,
    "continuous_time": run_continuous_time,
    "concept_geometry": run_concept_geometry,
    "categorical_simplex": run_categorical_simplex,
    "concept_frame": run_concept_frame,
    "concept_guided_decoding": run_concept_guided_decoding,
    "concept_guided_hidden": run_concept_guided_hidden,
    "integrated_gradients": run_integrated_gradients,
    "mamba_lrp": run_mamba_lrp,
    "interaction_operator": run_interaction_operator,
    "concatenated_runs": run_concatenated_runs,
    "onion_fit": _onion_runner("onion_fit"),
    "onion_train": _onion_runner("onion_train"),
    "onion_decode": _onion_runner("onion_decode"),
}
ALIASES = {"collisions": "collision_test"}

__all__ = ["ALIASES", "RUNNERS", "Options", "ProbeNotApplicable", "ProbeRun", "inputs"]
