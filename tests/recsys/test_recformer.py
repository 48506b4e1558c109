import pytest
import torch
import torch.nn.functional as F

from seqlab.recsys import Popularity, Recformer, SASRec, evaluate
from seqlab.recsys.base import user_ranks
from seqlab.recsys.data import Interactions, cold_item_split, leave_one_out
from seqlab.recsys.metrics import summarize
from seqlab.recsys.recformer import KEY, SUMMARY, VALUE, ItemTokens, flat_sequences, item_attributes

GENRES = ["action", "comedy", "drama", "horror"]


def genre_split(num_items=40, users=50, length=10, seed=0):
    """Items named "film k"; each has a genre; a user's next item has the same genre as the last.
    Only the text links items to genres, so a text model can rank items it never saw."""
    g = torch.Generator().manual_seed(seed)
    text = [f"Film {i} ({1990 + i % 7}); genres: {GENRES[i % 4].title()}" for i in range(1, num_items + 1)]
    us, its, ts = [], [], []
    for u in range(users):
        genre = u % 4
        pool = [i for i in range(1, num_items + 1) if i % 4 == genre]
        order = torch.randperm(len(pool), generator=g)[:length]
        for t, k in enumerate(order.tolist()):
            us.append(u), its.append(pool[k]), ts.append(t)
    return leave_one_out(Interactions.from_triples(us, its, ts, num_items, text))


def test_item_attributes_parse_movielens_text_into_key_values():
    assert item_attributes("Toy Story (1995); genres: Animation, Children's, Comedy") == {
        "title": "Toy Story",
        "genre": "Animation Children's Comedy",
        "year": "1995",
    }
    assert item_attributes("unknown (); genres: ") == {"title": "unknown"}
    assert item_attributes("just a name") == {"title": "just a name"}
    with pytest.raises(ValueError, match="non-empty text"):
        item_attributes("  ")


def test_item_tokens_flatten_keys_and_values_with_their_types():
    it = ItemTokens(["Heat (1995); genres: Action, Crime", "Up (2009); genres: Comedy"], 16, "words")
    words = ["title", "heat", "genre", "action", "crime", "year", "1995"]
    types = [KEY, VALUE, KEY, VALUE, VALUE, KEY, VALUE]
    n = len(words)
    assert it.types[1, :n].tolist() == types and it.ids[1, n:].eq(0).all()
    assert it.ids[1, 0] == it.ids[2, 0]  # the key "title" is one token for every item
    assert len(set(it.ids[1, :n].tolist())) == n and it.lengths.tolist() == [0, n, 6]
    short = ItemTokens(["Heat (1995); genres: Action, Crime"], 3, "words")
    assert short.lengths.tolist() == [0, 3]  # truncated to item_tokens
    with pytest.raises(ValueError, match="tokenizer"):
        ItemTokens(["a"], 4, "bpe")


def test_flat_sequences_concatenate_item_tokens_then_the_summary_token():
    it = ItemTokens(["A (1); genres: X", "B (2); genres: Y", "C (3); genres: Z"], 8, "words")
    toks, types, pos = flat_sequences(it, [torch.tensor([1, 2, 3]), torch.tensor([3])], max_items=2)
    n2, n3 = int(it.lengths[2]), int(it.lengths[3])
    assert toks[0, : n2 + n3].tolist() == it.ids[2, :n2].tolist() + it.ids[3, :n3].tolist()  # last 2 items
    assert toks[0, n2 + n3] == 1 and types[0, n2 + n3] == SUMMARY and pos[0, n2 + n3] == 0
    assert pos[0, :n2].eq(2).all() and pos[0, n2 : n2 + n3].eq(1).all()  # counted from the most recent
    assert toks[1, n3] == 1 and toks[1, n3 + 1 :].eq(0).all()  # right padding after [S]


def test_contrastive_loss_is_the_in_batch_softmax_with_duplicates_masked():
    split = genre_split()
    m = Recformer(tokenizer="words", init="random", max_steps=1, batch_size=8).fit(split)
    m.encoder.eval()
    hist = [torch.tensor([1, 5]), torch.tensor([2]), torch.tensor([3, 7, 11])]
    tgt = torch.tensor([9, 6, 9])
    with torch.no_grad():
        loss = m.contrastive_loss(hist, tgt)
        u = torch.stack(
            [F.normalize(m.encoder.encode(*flat_sequences(m.items, [h], 6))[0], dim=0) for h in hist]
        )
        v = torch.stack(
            [F.normalize(m.encoder.encode(*flat_sequences(m.items, [t.view(1)], 6))[0], dim=0) for t in tgt]
        )
    s = u @ v.T / m.tau
    ref = 0.0
    for b in range(3):
        negatives = [c for c in range(3) if c == b or tgt[c] != tgt[b]]
        ref += -(s[b, b] - torch.logsumexp(s[b, negatives], 0))
    assert float(loss) == pytest.approx(float(ref) / 3, rel=1e-4)


def test_recformer_ranks_items_never_seen_in_training_from_their_text():
    split = genre_split()
    cold_split, cold = cold_item_split(split, 0.25, seed=1)
    assert all(not cold[t].any() for t in cold_split.train)  # cold items are out of training
    m = Recformer(tokenizer="words", init="random", epochs=12, batch_size=32, lr=3e-3, d_model=32, n_layers=1)
    m.fit(cold_split)
    ranks = user_ranks(m, cold_split)
    is_cold = cold[cold_split.test]
    assert int(is_cold.sum()) >= 5
    # the genre of the next item follows from the text: 10 items per genre, ~6 unseen per user
    rec = summarize(ranks[is_cold])["recall@10"]
    sas = SASRec(epochs=10, batch_size=16, max_len=8).fit(cold_split)
    assert rec >= 0.6 > summarize(user_ranks(sas, cold_split)[is_cold])["recall@10"] + 0.2
    assert (
        evaluate(m, cold_split)["recall@10"] > evaluate(Popularity().fit(cold_split), cold_split)["recall@10"]
    )
    with pytest.raises(ValueError, match="no history"):
        m.scores([torch.tensor([], dtype=torch.long)])
    with pytest.raises(ValueError, match="outside the catalogue"):
        m.scores([torch.tensor([41])])


def test_bad_settings_and_texts():
    with pytest.raises(ValueError, match="max_items"):
        Recformer(max_items=0)
    with pytest.raises(ValueError, match="tau"):
        Recformer(tau=0)
    split = genre_split()
    split.item_text = split.item_text[:-1]
    with pytest.raises(ValueError, match="one text per item"):
        Recformer(tokenizer="words", init="random").fit(split)
    with pytest.raises(ValueError, match="init='minilm' needs"):
        Recformer(tokenizer="words", init="minilm").fit(genre_split())
    with pytest.raises(ValueError, match="fraction"):
        cold_item_split(genre_split(), 1.0)
