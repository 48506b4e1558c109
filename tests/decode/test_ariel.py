"""AriEL volume coding (seqlab.decode.ariel): exact round trip, boxes tile the cube, sampling = the LM."""

import math

import pytest
import torch

from seqlab.decode import ariel
from seqlab.models import SequenceModel

V, BOS, EOS = 7, 0, 1


def lm(seed=0, mixer="attention"):
    torch.manual_seed(seed)
    return SequenceModel(mixer=mixer, d_model=16, n_layers=1, vocab_size=V).eval()


@torch.no_grad()
def _logp(m, tokens):
    """log p(tokens | BOS) by a plain loop over prefixes (full forward each time)."""
    total = 0.0
    for i, w in enumerate(tokens):
        ids = torch.tensor([[BOS, *tokens[:i]]])
        total += float(torch.log_softmax(m(ids)[0, -1].double(), -1)[w])
    return total


@pytest.mark.parametrize("mixer", ["attention", "lstm"])
@pytest.mark.parametrize("dim", [1, 2, 5])
def test_round_trip_is_exact_and_volume_is_the_probability(mixer, dim):
    m = lm(1, mixer)
    g = torch.Generator().manual_seed(dim)
    sents = [torch.randint(2, V, (n,), generator=g).tolist() for n in (1, 3, 6)]
    boxes = [ariel.encode(m, s, dim, bos_token_id=BOS, eos_token_id=EOS) for s in sents]
    back = ariel.decode(m, torch.stack([b.point for b in boxes]), bos_token_id=BOS, eos_token_id=EOS)
    assert back == [[*s, EOS] for s in sents]
    for s, b in zip(sents, boxes, strict=True):
        assert bool((b.low < b.point).all() and (b.point < b.high).all())
        vol = float((b.high - b.low).prod())
        assert math.isclose(math.log(vol), _logp(m, [*s, EOS]), rel_tol=1e-4)
        inside = b.low + (b.high - b.low) * torch.rand(20, dim, generator=g, dtype=torch.float64)
        assert ariel.decode(m, inside, bos_token_id=BOS, eos_token_id=EOS) == [[*s, EOS]] * 20


def test_boxes_of_all_sentences_tile_the_cube():
    """Every sentence up to length 2 plus everything longer: the volumes of EOS-terminated
    sentences of length <= L sum to P(length <= L) computed by a plain loop."""
    m = lm(2)
    words = list(range(2, V))
    total, by_loop = 0.0, 0.0
    for a in words + [EOS]:
        seq = [a] if a == EOS else [a, EOS]
        b = ariel.encode(m, seq, 2, bos_token_id=BOS, eos_token_id=EOS)
        total += float((b.high - b.low).prod())
        by_loop += math.exp(_logp(m, seq))
    assert 0 < total < 1 and math.isclose(total, by_loop, rel_tol=1e-5)


def test_uniform_points_sample_the_lm():
    """First tokens of uniformly drawn points follow p(. | BOS) (binomial tolerance, 4 sigma)."""
    m = lm(3)
    n = 4000
    _, sents = ariel.sample(
        m, n, 3, generator=torch.Generator().manual_seed(0), bos_token_id=BOS, eos_token_id=EOS, max_length=4
    )
    p = torch.softmax(m(torch.tensor([[BOS]]))[0, -1].double(), -1)
    counts = torch.bincount(torch.tensor([s[0] for s in sents]), minlength=V).double()
    sd = (n * p * (1 - p)).sqrt()
    assert bool(((counts - n * p).abs() <= 4 * sd + 1).all())
    assert all(len(s) <= 4 for s in sents) and all(EOS not in s[:-1] for s in sents)


def test_bad_input():
    m = lm()
    with pytest.raises(ValueError, match="dim"):
        ariel.encode(m, [2, 3], 0, bos_token_id=BOS, eos_token_id=EOS)
    with pytest.raises(ValueError, match="token ids in"):
        ariel.encode(m, [2, V + 3], 2, bos_token_id=BOS, eos_token_id=EOS)
    with pytest.raises(ValueError, match=r"inside \[0, 1\]"):
        ariel.decode(m, torch.tensor([[0.5, 1.5]]), bos_token_id=BOS)
    with pytest.raises(ValueError, match="NaN|finite"):
        ariel.decode(m, torch.tensor([[float("nan"), 0.5]]), bos_token_id=BOS)
    with pytest.raises(ValueError, match="shape"):
        ariel.decode(m, torch.tensor([0.5, 0.5]), bos_token_id=BOS)
    with pytest.raises(ValueError, match="max_length"):
        ariel.decode(m, torch.tensor([[0.5]]), bos_token_id=BOS, max_length=0)
    with pytest.raises(ValueError, match="generator"):
        ariel.sample(m, 3, 2, generator=None, bos_token_id=BOS)
    enc = SequenceModel(
        mixer="attention", d_model=16, n_layers=1, vocab_size=V, mixer_cfg={"causal": False}
    ).eval()
    with pytest.raises(ValueError, match="causal"):
        ariel.encode(enc, [2], 2, bos_token_id=BOS)


def test_toy_grammar_generator_and_checker():
    g = torch.Generator().manual_seed(0)
    sents = [ariel.grammar_sentence(g) for _ in range(300)]
    assert all(ariel.is_grammatical([*s, ariel.GRAMMAR_EOS]) for s in sents)
    assert len({tuple(s) for s in sents}) > 250
    index = {w: i for i, w in enumerate(ariel.GRAMMAR_VOCAB)}
    ok = [index[w] for w in "these big dogs chase a cat near two birds".split()] + [ariel.GRAMMAR_EOS]
    assert ariel.is_grammatical(ok)
    for bad in (
        "these big dogs chases a cat",  # number agreement
        "these dogs chase",  # no object
        "a red red red cat sees a dog",  # three adjectives
        "a cat sees a dog near",  # dangling preposition
    ):
        assert not ariel.is_grammatical([index[w] for w in bad.split()] + [ariel.GRAMMAR_EOS])
    assert not ariel.is_grammatical(ok[:-1])  # unterminated
    assert not ariel.is_grammatical([ariel.GRAMMAR_BOS, *ok])
