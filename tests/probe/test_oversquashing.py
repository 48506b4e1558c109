"""Last-token representational collapse (arXiv 2406.04267)."""

from __future__ import annotations

import pytest
import torch

from seqlab.models import SequenceModel
from seqlab.probe.oversquashing import last_token_collapse


def model(pos):
    """Attention with ``pos`` inside it; "sinusoidal" adds absolute positions to the embeddings instead."""
    torch.manual_seed(0)
    inner, outer = ("none", "sinusoidal") if pos == "sinusoidal" else (pos, "none")
    cfg = {"pos": inner}
    return SequenceModel(
        "attention", d_model=16, n_layers=2, vocab_size=4, mixer_cfg=cfg, pos_enc=outer
    ).eval()


@pytest.mark.parametrize("pos", ["none", "rope"])
def test_relative_or_no_positions_collapse_repeated_tokens_exactly(pos):
    # every position of t^n holds the same input, and attention over identical values returns that
    # value whatever its weights (RoPE only moves the weights): t^n and t^(n+1) end in the same state
    rows = last_token_collapse(model(pos), 1, [1, 3, 8])
    assert [r["n"] for r in rows] == [1, 3, 8]
    assert all(r["rel"] < 1e-5 for r in rows)  # float32 round-off only


def test_a_prefix_breaks_the_symmetry_of_relative_positions():
    rows = last_token_collapse(model("rope"), 1, [2, 4], prefix=[3])
    assert all(r["rel"] > 1e-4 for r in rows)


def test_with_absolute_positions_the_difference_is_measured_and_rounding_can_only_merge():
    rows = last_token_collapse(model("sinusoidal"), 1, [2, 16])
    assert rows[0]["l2"] > 1e-4
    for r in rows:
        assert r["linf"] <= r["l2"] + 1e-12 and r["rel"] >= 0
        assert r["equal_bf16"] == (r["linf_bf16"] == 0.0)


def test_plain_loop_reference():
    m = model("sinusoidal")
    r = last_token_collapse(m, 2, [5], layer=1)[0]
    with torch.no_grad():
        a = m.hidden_states(torch.full((1, 5), 2))[1][0, -1]
        b = m.hidden_states(torch.full((1, 6), 2))[1][0, -1]
    assert r["l2"] == pytest.approx(float((a - b).norm()), rel=1e-6)


def test_bad_inputs():
    m = model("none")
    with pytest.raises(ValueError, match="lengths"):
        last_token_collapse(m, 1, [0])
    with pytest.raises(ValueError, match="token"):
        last_token_collapse(m, -1, [2])
    with pytest.raises(ValueError, match="layer"):
        last_token_collapse(m, 1, [2], layer=7)
