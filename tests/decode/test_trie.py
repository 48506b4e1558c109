"""The one prefix trie (seqlab.tokenize.trie), used by seqlab.decode and the semantic-ID tokenizer."""

import random

import pytest
import torch

import seqlab.decode as D
from seqlab.decode.trie import PrefixTrie as DecodeTrie
from seqlab.tokenize import PrefixTrie
from seqlab.tokenize.semantic_ids import PrefixTrie as SemanticTrie


def test_one_implementation():
    assert DecodeTrie is PrefixTrie and SemanticTrie is PrefixTrie and D.PrefixTrie is PrefixTrie


def _plain_allowed(seqs, prefix):
    """Reference: scan every sequence (no trie)."""
    k = len(prefix)
    return sorted({s[k] for s in seqs if len(s) > k and tuple(s[:k]) == tuple(prefix)})


def test_allowed_complete_and_prefix_match_a_plain_scan():
    rng = random.Random(0)
    seqs = [tuple(rng.randrange(5) for _ in range(rng.randrange(1, 5))) for _ in range(40)]
    trie = PrefixTrie(seqs)
    assert len(trie) == len(set(seqs)) and trie.depth == max(map(len, seqs))
    assert trie.sequences() == sorted(set(seqs))
    prefixes = {()} | {s[:k] for s in seqs for k in range(len(s) + 1)}
    prefixes |= {tuple(rng.randrange(6) for _ in range(rng.randrange(1, 4))) for _ in range(50)}
    for p in prefixes:
        want = _plain_allowed(seqs, p)
        assert trie.allowed(p) == want == trie.next_tokens(p)
        assert trie.complete(p) == (p in set(seqs)) == (p in trie)
        assert trie.is_prefix(p) == any(tuple(s[: len(p)]) == p for s in seqs)
        mask = trie.allowed_mask(p, 6)
        assert mask.tolist() == [t in want for t in range(6)]


def test_a_sequence_may_prefix_another():
    trie = PrefixTrie([[1, 2], [1, 2, 3]])
    assert trie.complete([1, 2]) and trie.allowed([1, 2]) == [3] and not trie.complete([1])
    assert trie.root == {1: {2: {3: {}}}}


def test_inputs_tensor_rows_numpy_like_ints():
    t = PrefixTrie(torch.tensor([[0, 1], [2, 3]]))
    assert PrefixTrie([torch.tensor([0, 1]), (2, 3)]).sequences() == t.sequences() == [(0, 1), (2, 3)]
    assert PrefixTrie.coerce(t) is t and PrefixTrie.coerce([[4]]).sequences() == [(4,)]


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="admits no sequence"):
        PrefixTrie([])
    with pytest.raises(ValueError, match="at least one token"):
        PrefixTrie([[1], []])
    with pytest.raises(ValueError, match="non-negative int"):
        PrefixTrie([[1, 2.5]])
    with pytest.raises(ValueError, match="non-negative int"):
        PrefixTrie([[True]])
    with pytest.raises(ValueError, match="sequences of int"):
        PrefixTrie(["ab"])
    with pytest.raises(ValueError, match=r"\(n, length\) tensor"):
        PrefixTrie(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="outside a vocabulary of 3"):
        PrefixTrie([[7]]).allowed_mask([], 3)
    with pytest.raises(ValueError, match="expected a PrefixTrie"):
        PrefixTrie.coerce("1 2")
