"""Time-continuous transformers (arXiv 2504.03933): token durations in attention and positions."""

from __future__ import annotations

import math

import pytest
import torch

from seqlab.mixers.attention import Attention
from seqlab.models import SequenceModel
from seqlab.probe.continuous import (
    check_durations,
    continuous_attention,
    continuous_logits,
    continuous_time,
    duration_bias,
    start_times,
)
from seqlab.probe.continuous_experiment import count_prompt, expected_count

D = torch.float64


def _mixer(pos="none", seed=0):
    torch.manual_seed(seed)
    return Attention(8, n_heads=2, pos=pos).double().eval()


def _x(L=5, seed=1):
    return torch.randn(2, L, 8, generator=torch.Generator().manual_seed(seed), dtype=D)


def test_times_and_bias_follow_the_direct_formula():
    d = torch.tensor([[1.0, 0.5, 2.0, 0.25]], dtype=D)
    torch.testing.assert_close(start_times(d), torch.tensor([[0.0, 1.0, 1.5, 3.5]], dtype=D))
    b = duration_bias(d)[0, 0]
    for i in range(4):
        for j in range(4):
            assert b[i, j] == (math.log(float(d[0, j])) if j <= i else float("-inf"))


def test_closed_form_is_the_time_integral_of_attention():
    m, x = _mixer(), _x(L=4)
    d = torch.tensor([0.7, 1.3, 0.2, 2.0], dtype=D)
    got = continuous_attention(m, x, d)
    q, k, v = m.project(x, None)
    ys = []
    for i in range(4):  # midpoint quadrature over [0, end of token i) of the piecewise-constant input
        ends = torch.cumsum(d, 0)
        grid = (torch.arange(20000, dtype=D) + 0.5) * float(ends[i]) / 20000
        owner = torch.searchsorted(ends, grid, right=True)
        w = torch.exp(q[:, :, i : i + 1] @ k[:, :, owner].transpose(-1, -2) / math.sqrt(4))  # (B, H, 1, G)
        ys.append((w @ v[:, :, owner]) / w.sum(-1, keepdim=True))
    want = m.out(torch.cat(ys, 2).transpose(1, 2).flatten(2))
    torch.testing.assert_close(got, want, atol=2e-4, rtol=0)  # quadrature error ~ 1 / 20000 per boundary
    plain = continuous_attention(m, x, torch.ones(4, dtype=D))  # durations ignored
    assert (plain - want).abs().max() > 1e-2


def test_splitting_a_token_into_two_halves_changes_nothing_after_it():
    m, x = _mixer(), _x(L=4)
    d = torch.tensor([1.0, 1.6, 0.5, 1.0], dtype=D)
    whole = continuous_attention(m, x, d)
    split_x = torch.cat([x[:, :2], x[:, 1:]], 1)  # token 1 twice
    split_d = torch.tensor([1.0, 0.6, 1.0, 0.5, 1.0], dtype=D)
    split = continuous_attention(m, split_x, split_d)
    torch.testing.assert_close(split[:, 2:], whole[:, 1:], atol=1e-12, rtol=0)


def test_a_vanishing_duration_removes_the_token_and_uniform_scaling_rescales_rope():
    m, x = _mixer(), _x(L=5)
    d = torch.ones(5, dtype=D)
    d[2] = 1e-12
    torch.testing.assert_close(
        continuous_attention(m, x, d)[:, [0, 1, 3, 4]],
        continuous_attention(m, x[:, [0, 1, 3, 4]], torch.ones(4, dtype=D)),
        atol=1e-9,
        rtol=0,
    )
    r = _mixer("rope")
    got = continuous_attention(r, x, torch.full((5,), 0.5, dtype=D))
    q, k, v = r.project(x, 0.5 * torch.arange(5, dtype=D).expand(2, 5))
    want = r.out(
        torch.softmax(q @ k.transpose(-1, -2) / 2 + torch.full((5, 5), float("-inf"), dtype=D).triu(1), -1)
        .matmul(v)
        .transpose(1, 2)
        .flatten(2)
    )
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("pos_enc,attn_pos", [("none", "rope"), ("sinusoidal", "none")])
def test_unit_durations_reproduce_a_seqlab_transformer_and_hooks_are_removed(pos_enc, attn_pos):
    torch.manual_seed(0)
    model = SequenceModel(
        mixer="attention", d_model=16, n_layers=2, vocab_size=11, pos_enc=pos_enc, mixer_cfg={"pos": attn_pos}
    ).eval()
    ids = torch.randint(0, 11, (2, 7))
    with torch.no_grad():
        ref = model(ids)
        with continuous_time(model, torch.ones(2, 7)):
            same = model(ids)
        d = torch.ones(2, 7)
        d[:, 3] = 0.3
        with continuous_time(model, d):
            moved = model(ids)
        again = model(ids)
    torch.testing.assert_close(same, ref, atol=1e-5, rtol=1e-5)
    assert torch.equal(again, ref)
    assert (moved[:, 3:] - ref[:, 3:]).abs().max() > 1e-3
    torch.testing.assert_close(
        moved[:, :3], ref[:, :3], atol=1e-5, rtol=1e-5
    )  # causal: the past is unchanged


@pytest.mark.slow  # loads SmolLM2 (~10-30 s on a loaded 2-core CPU)
def test_unit_durations_reproduce_smollm2_and_shrinking_moves_outputs_smoothly():
    from seqlab.lm import load

    lm = load("smollm2-135m")
    ids = torch.tensor([lm.tokenizer.encode("The cat sat on the mat")])
    ref = lm.logits(ids)
    torch.testing.assert_close(
        continuous_logits(lm, ids, torch.ones(ids.shape[1])), ref, atol=1e-4, rtol=1e-4
    )
    change = []
    for delta in (0.9, 0.99):
        d = torch.ones(ids.shape[1])
        d[2] = delta
        change.append(float((continuous_logits(lm, ids, d)[0, -1] - ref[0, -1]).abs().max()))
    assert 0 < change[1] < change[0]  # a smaller perturbation of the duration moves the output less


def test_counting_prompt_and_expected_count():
    class Tok:
        def encode(self, text, add_special_tokens=False):
            return [ord(c) for c in text]

    ids, copies, instruction = count_prompt(Tok(), 999, 3)
    assert [ids[i] for i in copies] == [999, 999, 999] and instruction == list(range(len("Count the words:")))
    logits = torch.full((2, 10), -1e9)
    logits[0, 4] = 0.0  # all mass on the 2nd number word
    logits[1, [3, 4]] = 0.0
    torch.testing.assert_close(expected_count(logits, [3, 4, 5]), torch.tensor([2.0, 1.5], dtype=D))


def test_bad_input_is_refused_with_clear_errors():
    with pytest.raises(ValueError, match=r"durations must have shape \(2, 3\) or \(3,\)"):
        check_durations(torch.ones(4), 2, 3)
    with pytest.raises(ValueError, match="finite and > 0"):
        check_durations(torch.tensor([1.0, 0.0, 1.0]), 1, 3)
    with pytest.raises(ValueError, match="finite and > 0"):
        check_durations(torch.tensor([1.0, float("nan"), 1.0]), 1, 3)
    with pytest.raises(ValueError, match="no window/ALiBi/URPE"):
        continuous_attention(Attention(8, n_heads=2, pos="alibi"), torch.randn(1, 3, 8), torch.ones(3))
    with pytest.raises(ValueError, match="causal Attention"):
        continuous_attention(Attention(8, n_heads=2, causal=False), torch.randn(1, 3, 8), torch.ones(3))
    ssm = SequenceModel(mixer="s4d", d_model=8, n_layers=1, vocab_size=5)
    with pytest.raises(ValueError, match="every mixer is attention"):
        with continuous_time(ssm, torch.ones(3)):
            pass
    learned = SequenceModel(mixer="attention", d_model=8, n_layers=1, vocab_size=5, pos_enc="learned")
    with pytest.raises(ValueError, match="sinusoidal or no input positions"):
        with continuous_time(learned, torch.ones(3)):
            pass
    with pytest.raises(ValueError, match="seqlab.lm causal model"):
        continuous_logits(learned, torch.zeros(1, 3, dtype=torch.long), torch.ones(3))
