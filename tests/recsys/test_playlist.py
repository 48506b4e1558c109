import pytest
import torch
import torch.nn.functional as F

from seqlab.recsys import Popularity, evaluate
from seqlab.recsys.playlist import (
    PlaylistSeq2Seq,
    Seq2SeqAutoencoder,
    cut_playlists,
    embed_sequences,
    probe_labels,
    tertiles,
)


def test_cut_playlists_are_consecutive_slices_within_the_length_range():
    seqs = [torch.arange(1, 24), torch.arange(30, 33), torch.arange(40, 52)]
    pls = cut_playlists(seqs, 4, 7, seed=3)
    assert all(4 <= p.numel() <= 7 for p in pls)
    assert all(torch.equal(p, torch.arange(int(p[0]), int(p[0]) + p.numel())) for p in pls)  # slices
    assert not any(int(p[0]) >= 30 and int(p[0]) < 40 for p in pls)  # a 3-item user gives none
    assert sum(p.numel() for p in pls if p[0] < 30) >= 23 - 3  # at most a short tail is dropped
    with pytest.raises(ValueError, match="min_len"):
        cut_playlists(seqs, 1, 5)
    with pytest.raises(ValueError, match="no playlists"):
        cut_playlists([torch.tensor([1, 2])], 4, 5)


def test_encoder_embedding_is_the_gru_state_after_the_last_real_item():
    torch.manual_seed(0)
    m = Seq2SeqAutoencoder(10, d_item=4, d_model=6).eval()
    seqs = [torch.tensor([3, 1, 4]), torch.tensor([5, 9])]
    z = embed_sequences(m, seqs)
    for r, s in enumerate(seqs):  # plain loop over the GRU cell equations
        h = torch.zeros(6)
        w_ih, w_hh = m.encoder.weight_ih_l0, m.encoder.weight_hh_l0
        b_ih, b_hh = m.encoder.bias_ih_l0, m.encoder.bias_hh_l0
        for x in m.items(s):
            gi, gh = w_ih @ x + b_ih, w_hh @ h + b_hh
            r_, z_ = torch.sigmoid(gi[:6] + gh[:6]), torch.sigmoid(gi[6:12] + gh[6:12])
            n_ = torch.tanh(gi[12:] + r_ * gh[12:])
            h = (1 - z_) * n_ + z_ * h
        assert torch.allclose(z[r], h, atol=1e-5)
    bag = embed_sequences(m, seqs, "bag")
    assert torch.allclose(bag[1], m.items(torch.tensor([5, 9])).mean(0))
    assert torch.allclose(embed_sequences(m, [seqs[0].flip(0)], "bag")[0], bag[0], atol=1e-6)  # order-free
    assert not torch.allclose(embed_sequences(m, [seqs[0].flip(0)])[0], z[0])  # the GRU is order-aware
    with pytest.raises(ValueError, match="kind"):
        embed_sequences(m, seqs, "mean")


def test_reconstruction_loss_is_teacher_forced_cross_entropy():
    torch.manual_seed(0)
    m = Seq2SeqAutoencoder(10, d_item=4, d_model=6)
    seqs = torch.tensor([[3, 1, 4], [5, 9, 0]])
    lens = torch.tensor([3, 2])
    z = m.encode(seqs, lens)
    ref = 0.0
    for r in range(2):
        h = z[r][None, None].contiguous()
        prev = m.bos
        for t in range(int(lens[r])):
            o, h = m.decoder(m.items(torch.tensor([[prev]])), h)
            ref = ref - F.log_softmax(m.out(o[0, 0]), -1)[seqs[r, t]]
            prev = int(seqs[r, t])
    assert float(m.loss(seqs, lens).detach()) == pytest.approx(float(ref) / 5, rel=1e-5)


def test_probe_labels_and_tertiles():
    genres = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.float)
    counts = torch.tensor([0, 10, 0, 100])
    pls = [torch.tensor([1, 1, 2]), torch.tensor([2, 3]), torch.tensor([2, 2, 2, 2]), torch.tensor([3, 1, 3])]
    lab = probe_labels(pls, genres, counts)
    assert lab["genre"].tolist() == [0, 1, 1, 0]  # genre counts [2,1], [1,2], [0,4], [3,2]
    assert lab["length"].tolist() == tertiles(torch.tensor([3.0, 2.0, 4.0, 3.0])).tolist()
    assert tertiles(torch.tensor([5.0, 1.0, 3.0, 2.0, 4.0, 0.0])).tolist() == [2, 0, 1, 1, 2, 0]


def cycle_users(num_items=40, users=60, length=16, seed=0):
    from seqlab.recsys.data import Interactions, leave_one_out

    g = torch.Generator().manual_seed(seed)
    us, its, ts = [], [], []
    for u in range(users):
        start = int(torch.randint(0, num_items, (1,), generator=g))
        for t in range(length):
            us.append(u), its.append((start + t) % num_items + 1), ts.append(t)
    return leave_one_out(Interactions.from_triples(us, its, ts, num_items))


@pytest.mark.slow
def test_playlist_model_learns_and_recommends_by_nearest_playlist():
    split = cycle_users()
    m = PlaylistSeq2Seq(min_len=4, max_len=6, epochs=25, batch_size=16, lr=1e-2, neighbours=5).fit(split)
    assert m.losses[-1] < 0.5 * m.losses[0]
    assert m.reconstruction_accuracy(m.playlists[:50]) > 0.5
    # the scores are the similarity-weighted membership of the 5 nearest playlists (plus a tiny tie-break)
    h = split.history()[:3]
    q = F.normalize(m.embed([x[-6:] for x in h]), dim=-1)
    sim = q @ m.bank.T
    top = sim.topk(5, dim=1)
    s = m.scores(h)
    for b in range(3):
        ref = sum(float(top.values[b, k]) * m.membership[top.indices[b, k]] for k in range(5))
        assert torch.allclose(s[b] - 1e-6 * torch.log1p(m.counts), ref, atol=1e-5)
    assert evaluate(m, split)["recall@10"] > evaluate(Popularity().fit(split), split)["recall@10"]
    with pytest.raises(ValueError, match="no history"):
        m.scores([torch.tensor([], dtype=torch.long)])
    with pytest.raises(ValueError, match="outside the catalogue"):
        m.embed([torch.tensor([0, 3])])
    with pytest.raises(ValueError, match="neighbours"):
        PlaylistSeq2Seq(neighbours=0)
