"""Experiment cells of the sequence-representation claims (``seqlab.papers.claims_embed_seq``).

- ``embed.hvm_compression`` (HVM, arXiv 2410.21332): a nested grammar drawn from the seed, one sequence
  sampled from it; description length (bits) of HVM (with and without variables) against LZ78, zlib and
  the adaptive no-chunk code of the raw atoms; the planted-chunk recall on an easy (disjoint, one-level)
  grammar is the positive control.
- ``embed.sorting_pretext`` (arXiv 1708.01246) and ``embed.continuity_pretext`` (arXiv 2112.05883): a
  trajectory world drawn from the seed; the pretext network trains on unlabelled trajectories, then its
  frozen encoder and the same encoder at its random initialisation are linearly probed (ridge) on
  ``n_per_class`` labelled windows per class; raw windows and chance are the trivial references.
- ``embed.categorical_composition`` (arXiv 2103.14770): a typed category drawn from the seed; both models
  see every generating pair and a fraction ``seen`` of each composite's pairs; hits@1 on the held-out
  composite pairs of the compositional model (composites = matrix products) and of the free-matrix
  baseline, with each composite's most frequent observed target and chance as trivial references.

Every function builds its data from the seed and returns JSON-ready numbers.
"""

from __future__ import annotations

import random
from collections import Counter

import torch

from seqlab.embed.hvm import HVM, kt_bits, lz78_bits, nested_grammar, zlib_bits
from seqlab.experiments.cell import experiment


def planted_recall(grammar, model: HVM) -> float:
    """Fraction of the grammar's fixed chunks (atom strings) that are chunks of the fitted model."""
    planted = grammar.fixed_chunks()
    learned = {model.flatten(e) for e in model.chunks()}
    return len(planted & learned) / len(planted)


@experiment("embed.hvm_compression")
def hvm_compression(params: dict, seed: int) -> dict:
    nested, easy = dict(params["nested"]), dict(params["easy"])
    length, easy_length = int(params["length"]), int(params["easy_length"])
    hvm_kw = dict(params.get("hvm", {}))
    g = nested_grammar(seed=seed, **nested)
    seq = g.sample(length, random.Random(seed + 1000))
    out: dict = {"length": length}
    for name, variables in (("hvm", True), ("hvm_novar", False)):
        dl = HVM(variables=variables, **hvm_kw).fit(seq).description_length(seq)
        out[name] = dl["total"]
        out[name + "_units"] = dl["n_units"]
        out[name + "_entries"] = dl["n_entries"]
        out[name + "_variables"] = dl["n_variables"]
    out["lz78"] = lz78_bits(seq, g.n_atoms)
    out["zlib"] = zlib_bits(seq)
    out["raw_kt"] = kt_bits(seq, g.n_atoms)
    ge = nested_grammar(seed=seed, **easy)
    easy_seq = ge.sample(easy_length, random.Random(seed + 2000))
    out["easy_recall"] = planted_recall(ge, HVM(**hvm_kw).fit(easy_seq))
    return out


# -- pretext tasks on trajectories: sorting (OPN) and continuity (CPNet) ----------------------------------
def _probe_pair(world, pretrained, random_init, params: dict, seed: int) -> dict:
    """Frozen linear probes of a pretrained and a random-init encoder (and of raw windows) on labelled
    windows: ``n_per_class`` per class train, ``n_test`` test."""
    from seqlab.embed.trajectories import frozen_probe
    from seqlab.probe.layers import probe_accuracy

    g = torch.Generator().manual_seed(seed + 5000)
    n_train = int(params["n_per_class"]) * world.n_classes
    labels = torch.arange(n_train) % world.n_classes
    x_tr, y_tr = world.sample(n_train, int(params["probe_length"]), g, labels=labels)
    x_te, y_te = world.sample(int(params["n_test"]), int(params["probe_length"]), g)
    x, y = torch.cat([x_tr, x_te]), torch.cat([y_tr, y_te])
    split = (torch.arange(n_train), torch.arange(n_train, len(x)))
    return {
        "pretrained": frozen_probe(pretrained, x, y, n_train),
        "random_init": frozen_probe(random_init, x, y, n_train),
        "raw": probe_accuracy(x.flatten(1).double(), y, split=split),
        "chance": 1.0 / world.n_classes,
    }


def _world_and_encoders(params: dict, seed: int, make_model):
    from seqlab.embed.trajectories import ConvSequenceEncoder, make_world

    world = make_world(seed=seed, **dict(params.get("world", {})))
    torch.manual_seed(seed)
    model = make_model(world.channels)
    random_init = ConvSequenceEncoder(world.channels)
    random_init.load_state_dict(model.encoder.state_dict())  # the pretrained encoder's starting point
    length = int(params["length"])
    return world, model, random_init, (lambda n, g: world.sample(n, length, g)[0])


@experiment("embed.sorting_pretext")
def sorting_pretext(params: dict, seed: int) -> dict:
    from seqlab.embed.sorting import OrderPredictionNetwork

    k = int(params["k"])
    world, opn, random_init, sample = _world_and_encoders(
        params, seed, lambda c: OrderPredictionNetwork(c, k=k)
    )
    kw = {"window": int(params["window"]), "gap": int(params["gap"])}
    losses = opn.fit(sample, steps=int(params["steps"]), seed=seed, **kw)
    held_out = sample(512, torch.Generator().manual_seed(seed + 7000))
    out = _probe_pair(world, opn.encoder, random_init, params, seed)
    out.update(
        pretext_acc=opn.accuracy(held_out, seed=seed, **kw),
        pretext_chance=1.0 / len(opn.classes),
        final_loss=sum(losses[-20:]) / 20,
    )
    return out


@experiment("embed.continuity_pretext")
def continuity_pretext(params: dict, seed: int) -> dict:
    from seqlab.embed.continuity import ContinuityNetwork

    world, net, random_init, sample = _world_and_encoders(params, seed, ContinuityNetwork)
    kw = {"clip": int(params["clip"]), "missing": int(params["missing"]), "margin": int(params["margin"])}
    losses = net.fit(sample, steps=int(params["steps"]), seed=seed, **kw)
    held_out = sample(512, torch.Generator().manual_seed(seed + 7000))
    out = _probe_pair(world, net.encoder, random_init, params, seed)
    ev = net.evaluate(held_out, seed=seed, **kw)
    out.update(
        justify_acc=ev["justify"],
        locate_acc=ev["locate"],
        missing_acc=ev["missing"],
        locate_chance=1.0 / (kw["clip"] - 2 * kw["margin"] + 1),
        final_loss=sum(losses[-20:]) / 20,
    )
    return out


# -- categorical representation learning --------------------------------------------------------------------
@experiment("embed.categorical_composition")
def categorical_composition(params: dict, seed: int) -> dict:
    from seqlab.embed.categorical import CategoricalEmbedding, composition_error, typed_category

    cat = typed_category(seed=seed, **dict(params["category"]))
    rng = random.Random(seed + 100)
    train, test = {}, {}
    for name in cat.morphisms:
        train[(name,)] = cat.pairs((name,))
    for chain in cat.chains:
        pairs = cat.pairs(chain)
        rng.shuffle(pairs)
        k = max(1, int(round(float(params["seen"]) * len(pairs))))
        train[chain], test[chain] = pairs[:k], pairs[k:]
    out: dict = {"n_chains": len(cat.chains)}
    models = {}
    for name, comp in (("categorical", True), ("free", False)):
        m = CategoricalEmbedding(cat, d=int(params["d"]), compositional=comp, seed=seed)
        m.fit(train, steps=int(params["steps"]), lr=float(params["lr"]))
        models[name] = m
        out[name] = sum(m.hits_at_1(c, test[c]) for c in cat.chains) / len(cat.chains)
        out[name + "_generators"] = sum(m.hits_at_1((n,), cat.pairs((n,))) for n in cat.morphisms) / len(
            cat.morphisms
        )
    # trivial: each chain's most frequent observed target; chance: a uniform guess in the target type
    mode = []
    for chain in cat.chains:
        counts = Counter(y for _, y in train[chain])
        top = counts.most_common(1)[0][0]
        mode.append(sum(y == top for _, y in test[chain]) / len(test[chain]))
    out["mode"] = sum(mode) / len(mode)
    out["chance"] = 1.0 / int(params["category"].get("per_type", 12))
    free = models["free"]
    errs = []
    with torch.no_grad():
        for chain in cat.chains:
            if len(chain) == 2:
                errs.append(
                    composition_error(free.matrix(chain), free.matrix(chain[1:]), free.matrix(chain[:1]))
                )
    out["free_composition_error"] = sum(errs) / len(errs)
    return out
