"""Offline data from gensim's wheel: sizes, splitting, and a clear error without gensim."""

import pytest

from seqlab.embed import data


def test_head500_split_into_1000_token_sentences():
    sents = list(data.head500())
    assert all(1 <= len(s) <= 1000 for s in sents)
    assert sum(map(len, sents)) == 331339
    assert len(sents) > 250  # the 250 lines are split
    assert list(data.head500()) == sents  # re-iterable


def test_evaluation_sets():
    ws, sl = data.wordsim353(), data.simlex999()
    assert len(ws) == 353 and len(sl) == 999
    assert (ws[0].word1, ws[0].word2, ws[0].score) == ("love", "sex", 6.77)
    an = data.analogies()
    assert len(an) == 14 and sum(map(len, an.values())) == 19544
    assert an["capital-common-countries"][0] == ("athens", "greece", "baghdad", "iraq")
    lee = list(data.lee_background())
    assert len(lee) == 300 and all(w == w.lower() and "," not in w for s in lee for w in s)


def test_missing_gensim_or_file_is_a_clear_error(monkeypatch):
    with pytest.raises(FileNotFoundError, match="not in gensim"):
        data.data_path("no_such_file.txt")

    def missing():
        raise ValueError("no gensim")

    monkeypatch.setattr(data, "gensim_data_dir", missing)
    with pytest.raises(ValueError, match=r"\[embed\] extra"):
        data.wordsim353()
