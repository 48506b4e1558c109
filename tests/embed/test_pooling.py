import pytest
import torch

from seqlab import registry
from seqlab.embed.pooling import (
    PooledEncoder,
    cls_pool,
    insert_landmarks,
    landmark_positions,
    last_pool,
    lmk_pool,
    mean_pool,
)
from seqlab.models import SequenceModel


def test_landmarks_follow_every_chunk_and_positions_point_at_them():
    ids = insert_landmarks([11, 12, 13, 14, 15, 16, 17], every=3, lmk_id=99, prefix=[1])
    assert ids == [1, 11, 12, 13, 99, 14, 15, 16, 99, 17, 99]
    assert landmark_positions(7, 3, prefix=1) == [4, 8, 10]
    for n in range(0, 40):
        for every in (1, 2, 5, 8):
            seq = insert_landmarks(list(range(100, 100 + n)), every, -1, prefix=[0])
            assert [i for i, t in enumerate(seq) if t == -1] == landmark_positions(n, every, 1)
            assert len(landmark_positions(n, every)) == max(1, -(-n // every))
    with pytest.raises(ValueError, match="positive int"):
        insert_landmarks([1, 2], every=0, lmk_id=9)


def test_pools_against_plain_loops():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(3, 6, 4, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1]])
    mean = mean_pool(h, mask)
    for b in range(3):
        rows = [h[b, t] for t in range(6) if mask[b, t]]
        assert torch.allclose(mean[b], sum(rows) / len(rows))
    assert torch.equal(cls_pool(h, mask)[2], h[2, 2]) and torch.equal(cls_pool(h, mask)[0], h[0, 0])
    assert torch.equal(last_pool(h, mask)[1], h[1, 2]) and torch.equal(last_pool(h, mask)[2], h[2, 5])
    marks = torch.zeros(3, 6)
    marks[:, [1, 4]] = 1
    assert torch.allclose(lmk_pool(h, marks), (h[:, 1] + h[:, 4]) / 2)
    with pytest.raises(ValueError, match="at least one token"):
        mean_pool(h, torch.zeros(3, 6))
    with pytest.raises(ValueError, match="batch, length, d"):
        mean_pool(torch.randn(3, 4))


def test_lmk_pooling_over_a_sequence_model_reads_the_landmark_states():
    torch.manual_seed(0)
    model = SequenceModel(mixer="attention", d_model=16, n_layers=2, vocab_size=20).eval()
    rows = [[3, 4, 5, 6, 7], [8, 9, 10]]
    enc = PooledEncoder(model, "lmk", every=2)
    e = enc.encode_ids(rows, lmk_id=19, prefix=[1])
    for row, got in zip(rows, e):
        ids = insert_landmarks(row, 2, 19, [1])
        h = model.hidden_states(torch.tensor([ids]))[-1][0]
        pos = landmark_positions(len(row), 2, 1)
        assert torch.allclose(got, h[pos].mean(0), atol=1e-6)
    mean = PooledEncoder(model, "mean").encode_ids(rows)
    assert torch.allclose(mean[1], model.hidden_states(torch.tensor([rows[1]]))[-1][0].mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="lmk_id"):
        enc.encode_ids(rows)
    with pytest.raises(ValueError, match="no tokenizer"):
        enc.encode(["text"])


@pytest.fixture(scope="module")
def minilm():
    import seqlab.lm

    return seqlab.lm.load("minilm-l6")


def test_minilm_short_text_lmk_is_the_sep_state_and_batches_match_single_texts(minilm):
    texts = ["a short sentence", "another, rather longer sentence about pooling of token states"]
    ids, mask = minilm.encode(texts[:1])
    h = minilm.hidden_states(ids, mask)[-1][0]
    lmk = PooledEncoder(minilm, "lmk", every=32).encode(texts)
    assert torch.allclose(lmk[0], h[-1], atol=1e-5)  # one chunk: its landmark is the closing [SEP]
    cls = PooledEncoder(minilm, "cls").encode(texts)
    assert torch.allclose(cls[0], h[0], atol=1e-5)
    mean = PooledEncoder(minilm, "mean").encode(texts)
    single = PooledEncoder(minilm, "mean").encode(texts[1:])
    assert torch.allclose(mean[1], single[0], atol=1e-5)  # padding does not leak into the mean
    # a long text is truncated to the 512-position context, landmarks included
    enc = PooledEncoder(minilm, "lmk", every=4)
    content = minilm.tokenizer(["word " * 600], add_special_tokens=False)["input_ids"][0]
    row, marks = enc.build_row(content, [101], [102], 102)
    assert len(row) <= 512 and sum(marks) == len(landmark_positions(len(row) - 1 - sum(marks), 4))
    assert all(row[p] == 102 for p, m in enumerate(marks) if m)


def test_registered_poolings(minilm):
    e = registry.create("embedder", "lmk_pooling", lm=minilm, every=8)
    assert e.pooling == "lmk" and e.every == 8
    assert registry.create("embedder", "cls_pooling", lm=minilm).pooling == "cls"
    assert registry.get("embedder", "lmk_pooling").implements[0].arxiv == "2601.21525"
    with pytest.raises(ValueError, match="pooling must be one of"):
        PooledEncoder(minilm, "max")
