"""HVM chunking / variables and the Lempel-Ziv anchors, each checked against a direct computation."""

import math
import random
import zlib

import pytest

from seqlab import registry
from seqlab.embed.hvm import (
    HVM,
    elias_gamma_bits,
    kt_bits,
    lz78_bits,
    lz78_decode,
    lz78_encode,
    nested_grammar,
    zlib_bits,
)


def test_lz78_phrases_of_a_textbook_string_and_round_trips():
    s = list("ABAABABAABAB")  # phrases A | B | AA | BA | BAA | BAB
    assert lz78_encode(s) == [(0, "A"), (0, "B"), (1, "A"), (2, "A"), (4, "A"), (4, "B")]
    assert lz78_decode(lz78_encode(s)) == s
    assert lz78_encode(list("ABA")) == [(0, "A"), (0, "B"), (1, None)]  # the last phrase is known
    rng = random.Random(0)
    for n in (1, 2, 17, 500):
        seq = [rng.randrange(5) for _ in range(n)]
        assert lz78_decode(lz78_encode(seq)) == seq


def test_lz78_bits_is_the_sum_of_index_and_symbol_costs():
    s = list("ABAABABAABAB")
    direct = sum(math.ceil(math.log2(i)) + 1 for i in range(1, 7))  # 2 symbols: 1 bit each
    assert lz78_bits(s) == direct
    assert lz78_bits(s, alphabet=8) == sum(math.ceil(math.log2(i)) + 3 for i in range(1, 7))
    with pytest.raises(ValueError, match="index 3"):
        lz78_decode([(0, "A"), (3, "B")])


def test_kt_bits_matches_the_product_of_its_sequential_probabilities():
    p = (0.5 / 1) * (1.5 / 2) * (0.5 / 3)  # a, a, b over 2 symbols
    assert kt_bits("aab", 2) == pytest.approx(-math.log2(p))
    with pytest.raises(ValueError, match="exceed"):
        kt_bits("abc", 2)


def test_zlib_bits_is_the_deflate_size_and_rejects_non_bytes():
    seq = [i % 7 for i in range(300)]
    assert zlib_bits(seq) == 8 * len(zlib.compress(bytes(seq), 9))
    assert list(zlib.decompress(zlib.compress(bytes(seq), 9))) == seq
    with pytest.raises(ValueError, match=r"\[0, 256\)"):
        zlib_bits([300])


def test_elias_gamma_lengths():
    assert [elias_gamma_bits(n) for n in (1, 2, 3, 4, 7, 8)] == [1, 3, 3, 5, 5, 7]


def test_grammar_expansions_contain_the_planted_chunks():
    g = nested_grammar(n_atoms=6, depth=2, items=3, parts=(2, 2), seed=1)
    chunks = g.fixed_chunks()
    assert len(chunks) == 6 and all(len(c) in (2, 4) for c in chunks)
    seq = g.sample(400, random.Random(0))
    assert len(seq) == 400 and set(seq) <= set(range(6))
    text = ",".join(map(str, seq))
    for c in chunks:  # every planted chunk shows up in the sequence
        assert ",".join(map(str, c)) in text


def test_chunking_follows_the_independence_rule():
    # "a b" always together, "x" and "y" random: (a, b) must become a chunk, and its count rule holds
    rng = random.Random(0)
    seq = []
    for _ in range(200):
        seq += ["a", "b"] if rng.random() < 0.5 else [rng.choice("xy")]
    m = HVM(variables=False, passes=1).fit(seq)
    flat = {m.flatten(e) for e in m.chunks()}
    assert ("a", "b") in flat
    pieces = [m.decode([u]) for u in m.parse(seq)]
    assert all(p[-1] != "a" and p[0] != "b" for p in pieces)  # no unit splits an a-b pair
    # a pair seen fewer than min_count times is never chunked
    assert not HVM(min_count=50, passes=1).fit(list("abxyabyx")).chunks()


def test_variables_group_fillers_of_a_shared_context():
    rng = random.Random(0)
    seq = []
    for _ in range(300):
        seq += ["a", rng.choice("pqr"), "c"] if rng.random() < 0.5 else [rng.choice("uvwxyz")]
    m = HVM().fit(seq)
    members = [{m.flatten(x)[0] for x in m.entries[v][1]} for v in m.variables_()]
    assert {"p", "q", "r"} in members
    units = m.parse(seq)
    assert m.decode(units) == seq
    assert any(fills for _, fills in units)  # some units use the variable


def test_parse_decode_round_trip_and_description_length_parts():
    g = nested_grammar(n_atoms=8, depth=3, items=4, var_prob=0.5, seed=2)
    seq = g.sample(800, random.Random(2))
    m = HVM().fit(seq)
    units = m.parse(seq)
    assert m.decode(units) == seq
    dl = m.description_length(seq)
    used = m.used_entries(units)
    k = m.n_atoms + len(used)
    assert dl["units"] == pytest.approx(kt_bits([e for e, _ in units], k))
    direct = sum(
        elias_gamma_bits(len(m.entries[e][1])) + 1 + math.log2(k) * len(m.entries[e][1]) for e in used
    )
    assert dl["dictionary"] == pytest.approx(direct)
    assert dl["total"] == pytest.approx(dl["dictionary"] + dl["units"] + dl["fillers"])
    assert dl["n_units"] == len(units) < len(seq)


def test_hvm_recovers_planted_chunks_and_beats_lz78_on_a_nested_sequence():
    g = nested_grammar(n_atoms=12, depth=1, items=4, parts=(2, 3), disjoint=True, seed=0)
    seq = g.sample(1500, random.Random(0))
    m = HVM().fit(seq)
    assert g.fixed_chunks() <= {m.flatten(e) for e in m.chunks()}
    g = nested_grammar(n_atoms=10, depth=3, items=5, var_prob=0.5, seed=0)
    seq = g.sample(1500, random.Random(0))
    m = HVM().fit(seq)
    assert m.description_length(seq)["total"] < lz78_bits(seq, g.n_atoms) < kt_bits(seq, g.n_atoms)


def test_encode_counts_parsed_units():
    m = HVM(passes=1).fit(list("abab" * 10))
    x = m.encode([list("abab"), list("ba")])
    assert x.shape == (2, len(m.entries))
    assert x[0].sum() == len(m.parse(list("abab"))) and x[1].sum() == 2


def test_disjoint_grammar_uses_each_atom_in_one_level_1_chunk():
    g = nested_grammar(n_atoms=12, depth=1, items=4, parts=(2, 3), disjoint=True, seed=3)
    atoms = [a for item in g.levels[1] for a in item]
    assert len(atoms) == len(set(atoms))
    with pytest.raises(ValueError, match="disjoint"):
        nested_grammar(n_atoms=5, items=4, parts=(2, 3), disjoint=True)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="non-empty"):
        HVM().fit([])
    with pytest.raises(RuntimeError, match="not fitted"):
        HVM().parse([1, 2])
    with pytest.raises(KeyError, match="not seen"):
        HVM().fit([1, 2, 1]).parse([1, 3])
    with pytest.raises(ValueError, match="ratio"):
        HVM(ratio=1.0)
    with pytest.raises(ValueError, match="min_count"):
        HVM(min_count=1)
    with pytest.raises(TypeError, match="hashable"):
        HVM().fit([[1], [2]])


def test_registered_with_its_paper():
    e = registry.get("embedder", "hvm")
    assert e.implements[0].arxiv == "2410.21332"


# -- memory decay (option, off by default) ---------------------------------------------------------------
def _shifting_sequence():
    """'a b' is a chunk in the first half only, 'c d' in the second half only, x/y/z random fillers."""
    rng = random.Random(0)
    seq = []
    for i in range(600):
        pair = ["a", "b"] if i < 300 else ["c", "d"]
        seq += pair if rng.random() < 0.5 else [rng.choice("xyz")]
    return seq


@pytest.mark.parametrize("decay,forget_below", [(0.0, 1.0), (0.02, 0.0), (0.05, 1.0)])
def test_strength_is_the_exponentially_forgetting_sum_of_occurrences(decay, forget_below):
    seq = _shifting_sequence()
    m = HVM(variables=False, decay=decay, forget_below=forget_below).fit(seq)
    assert m.chunks()
    for e in m.chunks():  # S(T) = sum_k exp(-decay (T - t_k)) over its creation and uses, by a plain loop
        direct = 0.0
        for t, x in m.strength_events:
            if x == e:
                direct += math.exp(-decay * (m.clock - t))
        assert m.strength(e) == pytest.approx(direct, rel=1e-9)
        assert direct >= forget_below or any(e in m.entries[k][1] for k in m.chunks())
    assert m.strength(0) == 0.0  # atoms have no strength
    assert m.decode(m.parse(seq)) == seq


def test_without_decay_strength_counts_uses_and_the_last_pass_events_are_the_parse():
    seq = _shifting_sequence()
    m = HVM(variables=False).fit(seq)
    assert len(m.history) < m.passes and not m.forgotten  # converged: the last pass added nothing
    units = [e for e, _ in m.parse(seq)]
    last = [x for t, x in m.strength_events if t > m.clock - len(units)]
    assert last == [e for e in units if m.entries[e][0] == "chunk"]
    counts = {e: sum(1 for _, x in m.strength_events if x == e) for e in m.chunks()}
    assert all(m.strength(e) == counts[e] for e in m.chunks())


def test_forget_deletes_weak_chunks_unless_a_kept_chunk_is_built_from_them():
    m = HVM(decay=0.1, forget_below=1.0)
    m.atoms = ["a", "b", "c"]
    for s in m.atoms:
        m._add("atom", s)
    ab = m._add("chunk", (0, 1))
    abc = m._add("chunk", (ab, 2))
    bc = m._add("chunk", (1, 2))
    v = m._add("var", (0, 1))
    vc = m._add("chunk", (v, 2))
    ca = m._add("chunk", (2, 0))
    m.clock = 10  # strengths now: value * exp(-0.1 * (10 - t))
    m._strength = {ab: (0.2, 10), abc: (5.0, 0), bc: (0.5, 10), vc: (0.9, 10), ca: (2.0, 0)}
    assert m.strength(abc) == pytest.approx(5 * math.exp(-1)) and m.strength(ca) < 1.0
    assert m._forget() == 4  # bc, v, vc, ca; ab is weak but a part of abc
    assert m.entries == [("atom", "a"), ("atom", "b"), ("atom", "c"), ("chunk", (0, 1)), ("chunk", (3, 2))]
    assert sorted(m.forgotten, key=repr) == sorted([("b", "c"), None, ("c", "a")], key=repr)
    assert m.strength(4) == pytest.approx(5 * math.exp(-1)) and m.parse(list("abca")) == [(4, ()), (0, ())]


def test_decay_forgets_chunks_that_stopped_occurring_and_is_off_by_default():
    seq = _shifting_sequence()
    default = HVM(variables=False).fit(seq)
    kept = {default.flatten(e) for e in default.chunks()}
    plain = HVM(variables=False, decay=0.0).fit(seq)
    assert {plain.flatten(e) for e in plain.chunks()} == kept and ("a", "b") in kept
    m = HVM(variables=False, decay=0.05).fit(seq)
    flat = {m.flatten(e) for e in m.chunks()}
    assert ("a", "b") not in flat and ("a", "b") in m.forgotten and ("c", "d") in flat
    assert len(m.entries) < len(plain.entries)
    with pytest.raises(ValueError, match="decay"):
        HVM(decay=-0.1)
    with pytest.raises(ValueError, match="forget_below"):
        HVM(forget_below=float("nan"))
