import math
import re
from pathlib import Path

import pytest
import torch

from seqlab.recsys.timesync import TIMeSynC, TIMeSynCModel, genre_matrix
from seqlab.recsys.timesync_decoder import IntentDecoder, TIMeSynCSeq2Seq, TIMeSynCSeq2SeqModel
from tests.recsys.test_timesync import TEXTS, session_split

SMALL = dict(window=3600.0, batch_size=16, d_model=16, max_len=16)


def seq2seq_model(horizon=3, seed=0):
    g, _ = genre_matrix(TEXTS)
    torch.manual_seed(seed)
    enc = TIMeSynCModel(5, g, d_model=8, max_len=8, slow_dims=(), dropout=0.0)
    return TIMeSynCSeq2SeqModel(enc, horizon, dropout=0.0).eval(), g


def test_step_k_reads_only_the_intents_before_it():
    model, g = seq2seq_model(horizon=4)
    items, buckets = torch.tensor([[1, 3, 2, 4]]), torch.tensor([[0, 1, 2, 3]])
    prev = torch.rand(1, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    base = model(items, buckets, prev=prev)
    assert base.shape == (1, 4, 4, 3)
    for m in range(3):  # prev[..., m, :] is y_{m+1}, fed to step m + 2 (index m + 1)
        other = prev.clone()
        other[:, :, m] = torch.rand(1, 4, 3)
        out = model(items, buckets, prev=other)
        assert torch.allclose(out[:, :, : m + 1], base[:, :, : m + 1], atol=1e-6)
        assert not torch.allclose(out[:, :, m + 1], base[:, :, m + 1])


def test_no_step_of_position_j_sees_events_after_j():
    model, g = seq2seq_model(horizon=3)
    prev = torch.rand(1, 5, 2, 3, generator=torch.Generator().manual_seed(1))
    a = model(torch.tensor([[1, 3, 2, 4, 1]]), torch.tensor([[0, 1, 2, 3, 4]]), prev=prev)
    b = model(torch.tensor([[1, 3, 2, 2, 3]]), torch.tensor([[0, 1, 2, 5, 6]]), prev=prev)
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-6) and not torch.allclose(a[:, 3:], b[:, 3:])


def plain_decoder(dec: IntentDecoder, h: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
    """The decoder block by loops over (batch, position, step) with explicit softmax attention."""
    B, L, d = h.shape
    S = prev.shape[2]
    out = torch.zeros(B, L, S, d)
    for b in range(B):
        for j in range(L):
            u = [h[b, j] + dec.step.weight[s] + dec.intent_in(prev[b, j, s]) for s in range(S)]
            qkv = [dec.self_qkv(dec.norm_self(x)) for x in u]
            after_self = []
            for s in range(S):
                q = qkv[s][:d]
                w = torch.softmax(
                    torch.stack([q @ qkv[t][d : 2 * d] / math.sqrt(d) for t in range(s + 1)]), 0
                )
                a = sum(w[t] * qkv[t][2 * d :] for t in range(s + 1))
                after_self.append(u[s] + dec.self_out(a))
            for s in range(S):
                x = after_self[s]
                q = dec.cross_q(dec.norm_cross(x))
                kv = [dec.cross_kv(h[b, i]) for i in range(j + 1)]
                w = torch.softmax(torch.stack([q @ kv[i][:d] / math.sqrt(d) for i in range(j + 1)]), 0)
                x = x + dec.cross_out(sum(w[i] * kv[i][d:] for i in range(j + 1)))
                x = x + dec.mlp(dec.norm_mlp(x))
                out[b, j, s] = dec.norm_out(x)
    return out


def test_the_decoder_block_matches_a_plain_loop():
    torch.manual_seed(2)
    dec = IntentDecoder(num_genres=3, d_model=8, horizon=3, dropout=0.0).eval()
    h, prev = torch.randn(2, 4, 8), torch.rand(2, 4, 2, 3)
    with torch.no_grad():
        assert torch.allclose(dec(h, prev), plain_decoder(dec, h, prev), atol=1e-5)


def test_horizon_one_is_the_one_step_model():
    split = session_split()
    for streams in ("single", "three"):
        a = TIMeSynC(streams=streams, epochs=2, **SMALL).fit(split)
        b = TIMeSynCSeq2Seq(horizon=1, streams=streams, epochs=2, **SMALL).fit(split)
        assert b.model.decoder is None and a.losses == b.losses
        h, t = split.history(), split.history_times()
        assert torch.equal(a.intent(h, t), b.intent(h, t))
        assert torch.equal(b.intents(h, t)[:, 0], a.intent(h, t))
        assert torch.equal(a.scores(h[:3], t[:3]), b.scores(h[:3], t[:3]))


def test_decoding_is_autoregressive_on_its_own_probabilities():
    split = session_split()
    m = TIMeSynCSeq2Seq(horizon=3, streams="synchronized", epochs=3, **SMALL).fit(split)
    assert m.losses[-1] < m.losses[0]
    h, t = split.history()[:4], split.history_times()[:4]
    out = m.intents(h, t)
    assert out.shape == (4, 3, 3) and ((out >= 0) & (out <= 1)).all()
    assert torch.allclose(out[:, 0], m.intent(h, t))
    # by hand: one forward pass with y_1 = p_1, y_2 = p_2 at each user's last position
    batch, last = m._batch(h, t)
    prev = torch.zeros(4, batch[0].shape[1], 2, 3)
    rows = torch.arange(4)
    prev[rows, last, 0], prev[rows, last, 1] = out[:, 0], out[:, 1]
    with torch.no_grad():
        full = torch.sigmoid(m.model(*batch, prev=prev)[rows, last])
    assert torch.allclose(full, out, atol=1e-6)


def test_teacher_forcing_targets_are_the_next_k_items():
    split = session_split(users=4)
    m = TIMeSynCSeq2Seq(horizon=3, streams="single", max_len=5)
    m.genres, _ = genre_matrix(split.item_text)
    examples, targets = m._training_examples(split)
    seq = split.train[0]
    n = seq.numel()
    # windows of user 0 end at the sequence's end: the last window's positions are n-1-5 .. n-2
    x = examples[0][0]
    assert torch.equal(x, seq[n - 6 : n - 1])
    for r in range(5):
        for k in range(1, 4):
            i = n - 6 + r + k
            assert targets[0][r, k - 1].item() == (seq[i].item() if i < n else 0)


def test_seq2seq_names_bad_input():
    with pytest.raises(ValueError, match="horizon"):
        TIMeSynCSeq2Seq(horizon=0)
    with pytest.raises(ValueError, match="streams"):
        TIMeSynCSeq2Seq(streams="four")
    model, _ = seq2seq_model(horizon=3)
    with pytest.raises(ValueError, match="steps 2..K"):
        model(torch.tensor([[1, 2]]), torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match="slow streams"):
        model.encoder.encode(torch.tensor([[1, 2]]), torch.tensor([[0, 1]]), [torch.zeros(1, 1, 4)], [])


def test_the_docs_timesync_example_runs(capsys):
    text = (Path(__file__).parents[2] / "docs" / "recsys.md").read_text()
    # fenced as ```py: test_docs_cli runs the page's one ```python block
    blocks = [b for b in re.findall(r"```py\n(.*?)```", text, flags=re.S) if "TIMeSynCSeq2Seq(" in b]
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/recsys.md", "exec"), {})
    out = capsys.readouterr().out.split("\n")
    assert float(out[0].replace("tensor(", "").rstrip(")")) > 1 / 3 and "torch.Size([2, 3, 3])" in out[1]
