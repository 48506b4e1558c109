"""PixelBytes: token layout, causal windows vs a direct 2D construction, PxBy embedding vs its formula,
causality, the two objectives, greedy generation vs full recomputation, training, bad input."""

import pytest
import torch

from seqlab.embed import pixelbytes as pb


def toy_sample(seed=0, h=3, w=4, levels=4):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(h, w, generator=g)
    return "ab", img, pb.sample_tokens("ab", img, levels)


def test_token_layout():
    _, img, toks = toy_sample()
    q = (img * 4).long().clamp(max=3) + pb.PIX0
    assert toks[:2] == [pb.BYTE0 + ord("a"), pb.BYTE0 + ord("b")]
    assert toks[2] == pb.BOI and toks[-1] == pb.EOI
    rows = toks[3:-1]
    assert len(rows) == 3 * 5
    for r in range(3):
        assert rows[r * 5 : r * 5 + 4] == q[r].tolist() and rows[r * 5 + 4] == pb.NL
    assert pb.vocab_size(4) == 4 + 256 + 4
    assert pb.text_tokens("é") == [pb.BYTE0 + b for b in "é".encode()]


def test_windows_match_a_direct_2d_construction():
    _, img, toks = toy_sample(h=4, w=5)
    win = pb.windows(toks)
    q = (img * 4).long().clamp(max=3) + pb.PIX0
    start = toks.index(pb.BOI) + 1
    for t, tok in enumerate(toks):
        rel = t - start
        if 0 <= rel and rel % 6 < 5 and tok >= pb.PIX0:  # pixel (r, c)
            r, c = divmod(rel, 6)
            want = []
            for dr in (-2, -1, 0):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    future = dr == 0 and dc == 1
                    inside = 0 <= rr < 4 and 0 <= cc < 5
                    want.append(int(q[rr, cc]) if inside and not future else pb.PAD)
        else:  # text and specials: tokens t-7 .. t, then PAD
            want = [toks[s] if s >= 0 else pb.PAD for s in range(t - 7, t + 1)] + [pb.PAD]
        assert win[t].tolist() == want, t
    assert (win[:, pb.SELF] == torch.tensor(toks)).all()  # cell 7 is the token itself


def test_pxby_embed_is_the_gated_convolution_formula():
    torch.manual_seed(0)
    emb = pb.PxByEmbed(vocab=30, d=36)
    with torch.no_grad():
        emb.alpha.normal_()
    win = torch.randint(0, 30, (2, 3, 9))
    got = emb(win)
    x = emb.emb.weight[win.reshape(6, 3, 3)].permute(0, 3, 1, 2)
    a = torch.sigmoid(emb.alpha)
    mixed = a * x + (1 - a) * torch.nn.functional.conv2d(x, emb.conv.weight, emb.conv.bias, padding=1)
    want = torch.nn.functional.layer_norm(
        mixed.reshape(6, -1) @ emb.proj.weight.T + emb.proj.bias, (36,), emb.norm.weight, emb.norm.bias
    ).view(2, 3, 36)
    assert emb.e_int == 9 and got.shape == (2, 3, 36)
    assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("objective", ["predict", "autoregressive"])
def test_outputs_are_causal(objective):
    torch.manual_seed(0)
    m = pb.PixelBytesLSTM(levels=4, d=18, hidden=16, objective=objective).eval()
    _, _, toks = toy_sample(h=4, w=5)
    changed = list(toks)
    changed[20:] = [pb.PIX0 + (x - pb.PIX0 + 1) % 4 if x >= pb.PIX0 else x for x in toks[20:]]
    a, _ = m(pb.windows(toks)[None])
    b, _ = m(pb.windows(changed)[None])
    assert torch.allclose(a[:, :20], b[:, :20], atol=1e-6)
    assert not torch.allclose(a[:, 20:], b[:, 20:])
    assert a.shape == (1, len(toks), 1 if objective == "predict" else 8, pb.vocab_size(4))


def test_objective_targets_and_loss():
    torch.manual_seed(0)
    seqs = [toy_sample(s)[2] for s in range(3)]
    tokens, win, mask = pb.batch(seqs)
    for objective, cells in (("predict", 1), ("autoregressive", 8)):
        m = pb.PixelBytesLSTM(levels=4, d=18, hidden=16, objective=objective)
        logits, _ = m(win[:, :-1])
        keep = mask[:, 1:]
        target = tokens[:, 1:, None] if cells == 1 else win[:, 1:, :8]
        want = torch.nn.functional.cross_entropy(logits[keep].reshape(-1, m.vocab), target[keep].reshape(-1))
        assert torch.allclose(m.loss(tokens, win, mask), want)
        # the next-token logits of the autoregressive head are cell 7 of the next window (= x_{t+1})
        assert torch.equal(m.next_token_logits(logits), logits[..., 0 if cells == 1 else pb.SELF, :])
    assert torch.equal(win[:, 1:, pb.SELF][mask[:, 1:]], tokens[:, 1:][mask[:, 1:]])


@pytest.mark.parametrize("objective", ["predict", "autoregressive"])
def test_greedy_generation_equals_full_recomputation(objective):
    torch.manual_seed(1)
    m = pb.PixelBytesLSTM(levels=4, d=18, hidden=16, objective=objective).eval()
    prefixes = [toy_sample(s, h=4, w=5)[2][:14] for s in range(2)] + [
        pb.text_tokens("abc") + [pb.BOI, pb.PIX0]
    ]
    got = m.continue_greedy(prefixes, 6)
    for p, cont in zip(prefixes, got):
        seq = list(p)
        for _ in range(6):
            logits, _ = m(pb.windows(seq)[None])
            seq.append(int(m.next_token_logits(logits[0, -1]).argmax()))
        assert cont == seq[len(p) :]


def test_training_learns_a_copy_above_image_language():
    """Images whose rows repeat the first: after training, pixels beat the most frequent token."""
    g = torch.Generator().manual_seed(0)
    seqs = []
    for _ in range(24):
        row = torch.randint(0, 4, (6,), generator=g).float() / 4 + 0.1
        seqs.append(pb.sample_tokens("x", row.expand(4, 6), 4))
    torch.manual_seed(0)
    m = pb.PixelBytesLSTM(levels=4, d=18, hidden=32, objective="predict")
    losses = pb.train(m, seqs, steps=120, batch_size=8, lr=1e-2)
    acc = pb.next_token_accuracy(m, seqs)
    base = pb.baseline_accuracies(seqs, seqs)
    assert losses[-1] < losses[0] * 0.5
    assert base["copy_above"]["pixels"] > 0.7  # the data is copyable from above
    assert acc["pixels"] > base["majority"]["pixels"] + 0.1, (acc, base)


def test_bad_input():
    with pytest.raises(ValueError, match="objective"):
        pb.PixelBytesLSTM(objective="diffusion")
    with pytest.raises(ValueError, match=r"shape \(H, W\)"):
        pb.image_tokens(torch.zeros(2, 2, 2), 4)
    with pytest.raises(ValueError, match="levels"):
        pb.image_tokens(torch.zeros(2, 2), 1)
    with pytest.raises(ValueError, match="n must be in"):
        pb.mnist_sequences("test", 0)


def test_docs_example_runs(capsys):
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "embed.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    code = next(b for b in blocks if "seqlab.embed.pixelbytes" in b)
    exec(compile(code, str(doc), "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("10 (1, 10, 8, 264)")
