import pytest
import torch

from seqlab.tokenize.actions import PRISE, StringActionTokenizer, learn_bpe


def test_string_round_trip_is_exact_at_the_precision():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(50, 7, generator=g, dtype=torch.float64) * 2 - 1
    tok = StringActionTokenizer(precision=3)
    strings = tok.encode(a)
    assert strings[0].count(" ") == 6 and len(strings[0]) == 7 * 6 + 6
    back = tok.decode(strings)
    assert torch.equal(back, tok.quantize(a))
    assert (back - a).abs().max() <= 0.5e-3 + 1e-12
    assert tok.encode(back) == strings  # lossless on the precision grid
    assert set("".join(strings)) <= set(tok.VOCAB)
    ids = tok.encode_ids(a)
    assert ids.max() < len(tok.VOCAB) and torch.equal(tok.decode_ids(ids), back)


def test_string_format_examples():
    tok = StringActionTokenizer(precision=2, int_digits=2)
    assert tok.encode(torch.tensor([-1.234, 0.0, 12.346])) == ["-01.23 +00.00 +12.35"]
    assert tok.decode("-01.23 +00.00").tolist() == [[-1.23, 0.0]]
    assert StringActionTokenizer(precision=0).encode(torch.tensor([3.4, -2.6])) == ["+3 -3"]


@pytest.mark.parametrize(
    "bad, match",
    [("+0.12", "expected values like"), ("+0.123  -0.100", "expected values like"), ("0.123", "expected"),
     ("+0.1a3", "expected")],
)
def test_undecodable_strings_fail_clearly(bad, match):
    with pytest.raises(ValueError, match=match):
        StringActionTokenizer(precision=3).decode(bad)


def test_out_of_range_and_nan_actions_fail_clearly():
    tok = StringActionTokenizer(precision=3, int_digits=1)
    with pytest.raises(ValueError, match=r"\|a\| <"):
        tok.encode(torch.tensor([[10.0]]))
    with pytest.raises(ValueError, match="finite"):
        tok.encode(torch.tensor([[float("nan")]]))
    with pytest.raises(ValueError, match="action_dim"):
        tok.encode(torch.zeros(0, 3))


def test_bpe_merges_most_frequent_pairs_first():
    rules = learn_bpe([[0, 1, 0, 1, 2], [0, 1, 2]], vocab=3, merges=5)
    assert rules[0] == (0, 1, 3)
    assert rules[1] == (3, 2, 4)


def make_demos(seed=0, n=12):
    # trajectories built from two recurring "skills" (fixed action snippets) in random order
    g = torch.Generator().manual_seed(seed)
    prims = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    skills = [[0, 1, 2], [3, 3, 1, 0]]
    trajs = []
    for _ in range(n):
        order = torch.randint(2, (6,), generator=g).tolist()
        acts = prims[[c for s in order for c in skills[s]]]
        trajs.append(acts + 0.02 * torch.randn(acts.shape, generator=g))
    return trajs


def test_prise_round_trip_and_skill_compression():
    trajs = make_demos()
    prise = PRISE(codebook_size=4, merges=6).fit(trajs)
    for t in trajs:
        tokens = prise.encode(t)
        codes = prise.primitive_codes(t).tolist()
        assert prise.tokens_to_codes(tokens) == codes  # exact round trip over codes
        torch.testing.assert_close(prise.decode(tokens), prise.codebook[torch.tensor(codes)])
        assert (prise.decode(tokens) - t).abs().max() < 0.1
        assert len(tokens) <= len(codes) / 2  # skills shorten the sequence
    lengths = sorted(len(s) for k, s in prise.skills.items() if k >= 4)
    assert 3 in lengths and 4 in lengths  # the planted skills were found


def test_prise_bad_input():
    with pytest.raises(ValueError, match="fitted"):
        PRISE().encode(torch.randn(3, 2))
    prise = PRISE(codebook_size=4, merges=2).fit(make_demos(n=3))
    with pytest.raises(ValueError, match="undecodable"):
        prise.decode([99])
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        prise.encode(torch.randn(3, 5))
