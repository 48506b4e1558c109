import pytest
import torch

from seqlab.recsys.data import Interactions, leave_one_out
from seqlab.recsys.timesync import (
    TIMeSynC,
    TIMeSynCModel,
    genre_matrix,
    intent_hits,
    slow_stream,
    synchronized_index,
)
from seqlab.recsys.timesync_streams import activity_stream, stream_dim

TEXTS = [
    "A (1990); genres: Action",
    "B (1991); genres: Comedy",
    "C (1992); genres: Action, Comedy",
    "D (1993); genres: Drama",
]


def test_genre_matrix_is_the_multi_hot_of_each_item():
    g, names = genre_matrix(TEXTS)
    assert names == ["Action", "Comedy", "Drama"]
    assert g.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="genre"):
        genre_matrix(["no genres here"])


def test_slow_stream_and_synchronisation_follow_the_window_definition():
    g, _ = genre_matrix(TEXTS)
    items = torch.tensor([1, 3, 2, 4, 4])
    times = torch.tensor([10.0, 50.0, 130.0, 500.0, 510.0])
    ids, feats = slow_stream(items, times, g, window=100.0)
    assert ids.tolist() == [0, 1, 5]  # windows [0,100), [100,200), [500,600)
    ref0 = (g[1] + g[3]) / 2
    assert torch.allclose(feats[0, :3], ref0) and feats[0, 3] == pytest.approx(torch.log1p(torch.tensor(2.0)))
    assert torch.allclose(feats[2, :3], g[4]) and feats[2, 3] == pytest.approx(torch.log1p(torch.tensor(2.0)))
    sync = synchronized_index(times, ids, 100.0)
    # by hand: last window w with (w + 1) * 100 <= t
    ref = []
    for t in times.tolist():
        done = [k for k, w in enumerate(ids.tolist()) if (w + 1) * 100.0 <= t]
        ref.append(done[-1] if done else -1)
    assert sync.tolist() == ref == [-1, -1, 0, 1, 1]
    with pytest.raises(ValueError, match="window"):
        slow_stream(items, times, g, window=0)


def model_logits(model, m, items, times):
    ex = m._example(torch.tensor(items), torch.tensor(times, dtype=torch.float64))
    return model(*m._collate([ex]))[0]


@pytest.mark.parametrize("streams", ["synchronized", "three"])
def test_synchronized_context_never_sees_the_future(streams):
    """Changing events after position j (and the windows they fall in) leaves the logits at j unchanged."""
    g, _ = genre_matrix(TEXTS)
    m = TIMeSynC(streams=streams, window=100.0, day=200.0)
    m.genres = g
    dims = tuple(stream_dim(n, 3) for n in m.slow_names)
    assert len(dims) == {"synchronized": 1, "three": 2}[streams]
    torch.manual_seed(0)
    model = TIMeSynCModel(5, g, d_model=8, max_len=8, slow_dims=dims, dropout=0.0).eval()
    a = model_logits(model, m, [1, 3, 2, 4, 1], [10.0, 50.0, 130.0, 250.0, 900.0])
    b = model_logits(model, m, [1, 3, 2, 2, 3], [10.0, 50.0, 130.0, 260.0, 990.0])
    assert torch.allclose(a[:3], b[:3], atol=1e-6) and not torch.allclose(a[3:], b[3:])
    # the slow streams matter: the same fast stream with other completed windows changes the output
    c = model_logits(model, m, [1, 3, 2, 4, 1], [10.0, 150.0, 330.0, 450.0, 900.0])
    assert not torch.allclose(a[2], c[2])


def test_the_third_stream_is_read_and_only_once_its_day_is_complete():
    """Events 0-1 fall on day 0 (ends at 200); the activity stream reaches event 2 (t=210) only, and
    changing day 0's time of day (same genre windows, same gaps) moves the logits from event 2 on."""
    g, _ = genre_matrix(TEXTS)
    m = TIMeSynC(streams="three", window=1.0, day=200.0)
    m.genres = g
    torch.manual_seed(1)
    model = TIMeSynCModel(5, g, d_model=8, max_len=8, slow_dims=(4, 1 + 4 + 3), dropout=0.0).eval()
    # the time of day is binned on 86400-s days whatever the window: both events fall before 6 am
    a = model_logits(model, m, [1, 2, 3], [10.0, 20.0, 210.0])
    _, fa = activity_stream(torch.tensor([1, 2]), torch.tensor([10.0, 20.0]), g, 200.0)
    assert fa[0, 1].item() == 1.0
    sync = synchronized_index(torch.tensor([10.0, 20.0, 210.0]), torch.tensor([0, 1]), 200.0)
    assert sync.tolist() == [-1, -1, 0]
    e = m._example(torch.tensor([1, 2, 3]), torch.tensor([10.0, 20.0, 210.0], dtype=torch.float64))
    feats, idx = e[2][1]
    feats = feats.clone()
    feats[0, 1:5] = torch.tensor([0.0, 0.0, 1.0, 0.0])  # the same day, rated in the afternoon
    e2 = (e[0], e[1], [e[2][0], (feats, idx)])
    b = model(*m._collate([e2]))[0]
    assert torch.allclose(a[:2], b[:2], atol=1e-6) and not torch.allclose(a[2], b[2])


def test_intent_hits_is_one_when_the_top_genre_is_among_the_targets():
    g, _ = genre_matrix(TEXTS)
    prob = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.2, 0.6], [0.5, 0.5, 0.0]])
    assert intent_hits(prob, g, torch.tensor([3, 1, 2])).tolist() == [1.0, 0.0, 0.0]  # tie -> Action


def session_split(users=60, seed=0):
    """Each user alternates sessions (gap 2 h) of one genre; the genre of a session is the one that
    was *not* watched in the previous session: only the completed-window stream carries that."""
    g = torch.Generator().manual_seed(seed)
    text = [f"F{i} ({1990 + i}); genres: {['Action', 'Comedy', 'Drama'][i % 3]}" for i in range(30)]
    us, its, ts = [], [], []
    for u in range(users):
        t = 7200.0 * 100 * u
        genre = int(torch.randint(0, 3, (1,), generator=g))
        for _ in range(4):
            for _ in range(3):
                k = int(torch.randint(0, 10, (1,), generator=g))
                us.append(u), its.append(3 * k + genre + 1), ts.append(t)
                t += 60.0
            genre = (genre + 1) % 3
            t += 7200.0
    return leave_one_out(Interactions.from_triples(us, its, ts, 30, text))


@pytest.mark.parametrize("streams", ["single", "synchronized", "three"])
def test_each_stream_set_learns_the_session_task(streams):
    split = session_split()
    m = TIMeSynC(streams=streams, window=3600.0, epochs=8, batch_size=16, d_model=16, max_len=16).fit(split)
    assert m.losses[-1] < m.losses[0]
    p = m.intent(split.history(), split.history_times())
    assert intent_hits(p, m.genres, split.test).mean() > 0.5  # chance 1/3


def test_the_head_starts_at_the_prior_and_a_fit_is_reproducible():
    split = session_split()
    a = TIMeSynC(epochs=1, window=3600.0, batch_size=16, d_model=16, max_len=16)
    a.fit(split)
    torch.manual_seed(123)  # the global generator state does not matter
    b = TIMeSynC(epochs=1, window=3600.0, batch_size=16, d_model=16, max_len=16).fit(split)
    assert a.losses == b.losses
    # prior of the training targets (every training item after a user's first), by a plain loop
    counts, n = torch.zeros(3), 0
    for seq in split.train:
        for i in seq[1:].tolist():
            counts += a.genres[i]
            n += 1
    m = TIMeSynC(epochs=1, window=3600.0, batch_size=16, d_model=16, max_len=16, lr=0.0).fit(split)
    assert torch.allclose(torch.sigmoid(m.model.backbone.head.bias), counts / n, atol=1e-5)


def test_timesync_fits_predicts_intent_and_names_bad_input():
    split = session_split()
    m = TIMeSynC(window=3600.0, epochs=8, batch_size=16, d_model=16, max_len=16).fit(split)
    assert m.losses[-1] < m.losses[0]
    p = m.intent(split.history(), split.history_times())
    assert p.shape == (60, 3) and ((p >= 0) & (p <= 1)).all()
    assert intent_hits(p, m.genres, split.test).mean() > 0.5  # chance 1/3
    s = m.scores(split.history()[:2], times=split.history_times()[:2])
    assert s.shape == (2, 31) and s[:, 0].eq(float("-inf")).all()
    with pytest.raises(ValueError, match="timestamps"):
        m.scores(split.history()[:2])
    with pytest.raises(ValueError, match="finite"):
        m.intent([torch.tensor([1, 2])], [torch.tensor([1.0, float("nan")])])
    with pytest.raises(ValueError, match="no history"):
        m.intent([torch.tensor([], dtype=torch.long)], [torch.tensor([])])
    with pytest.raises(ValueError, match="outside the catalogue"):
        m.intent([torch.tensor([31])], [torch.tensor([1.0])])
    with pytest.raises(ValueError, match="streams"):
        TIMeSynC(streams="triple")
    with pytest.raises(ValueError, match="day"):
        TIMeSynC(day=0)
    split.train_times = None
    with pytest.raises(ValueError, match="timestamps"):
        TIMeSynC(epochs=1).fit(split)


def test_activity_stream_follows_its_definition_by_a_plain_loop():
    g, _ = genre_matrix(TEXTS)
    items = torch.tensor([1, 3, 2, 4, 4, 2])
    times = torch.tensor([100.0, 30000.0, 50000.0, 90000.0, 90001.0, 400000.0], dtype=torch.float64)
    ids, feats = activity_stream(items, times, g)  # one UTC day per window
    assert ids.tolist() == [0, 1, 4] and feats.shape == (3, stream_dim("activity", 3))
    for r, w in enumerate(ids.tolist()):
        rows = [j for j in range(len(items)) if int(times[j] // 86400) == w]
        n = len(rows)
        tod = torch.zeros(4)
        hist = torch.zeros(3)
        for j in rows:
            tod[int((float(times[j]) % 86400) / 21600)] += 1
            hist += g[items[j]]
        ref = torch.cat([torch.log1p(torch.tensor([float(n)])), tod / n, hist / n])
        assert torch.allclose(feats[r], ref)
    # day 0: 100 s, 30000 s and 50000 s after midnight -> bins 0, 1, 2 of four 6-hour bins
    assert torch.allclose(feats[0, 1:5], torch.tensor([1 / 3, 1 / 3, 1 / 3, 0.0]))


def test_streams_name_bad_input():
    g, _ = genre_matrix(TEXTS)
    with pytest.raises(ValueError, match="non-decreasing"):
        activity_stream(torch.tensor([1, 2]), torch.tensor([5.0, 1.0]), g)
    with pytest.raises(ValueError, match="one entry per item"):
        slow_stream(torch.tensor([1, 2]), torch.tensor([1.0]), g, 10.0)
    with pytest.raises(ValueError, match="unknown slow stream"):
        stream_dim("weather", 3)
    with pytest.raises(ValueError, match="window"):
        activity_stream(torch.tensor([1]), torch.tensor([1.0]), g, window=-1.0)
