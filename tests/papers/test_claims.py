from seqlab.bench.store import ResultStore
from seqlab.commands.papers import paper_table
from seqlab.papers import TITLES
from seqlab.papers.claims import CLAIMS, claim, claims_table


def _result(score, ood=None, **ident):
    return {"metric": "accuracy", "score": score, "ood_score": ood, "id": {"accuracy": score, **ident}}


def test_claims_are_registered_with_catalog_titles_and_criteria():
    assert len(CLAIMS) >= 7
    for c in CLAIMS.values():
        assert c.title in TITLES, c.title
        assert c.criterion and c.runs


def test_status_is_computed_from_the_store(tmp_path):
    c = claim("rnns_not_transformers")
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert c.status(store)[0] == "not run"
        att, lstm, s4d = c.runs
        store.put(att, _result(0.95))
        store.put(lstm, _result(0.40))
        assert c.status(store) == ("not run", "2/3 runs stored")
        store.put(s4d, _result(0.85))
        status, fig = c.status(store)
        assert status == "failed" and "gap +0.100" in fig  # 0.95 - 0.85 < 0.20
    with ResultStore(tmp_path / "t.sqlite") as store:
        store.put(att, _result(0.99))
        store.put(lstm, _result(0.30))
        store.put(s4d, _result(0.50))
        assert c.status(store)[0] == "passed"
        head, body = claims_table(store)
        row = next(b for b in body if b[0] == "rnns_not_transformers")
        assert row[3] == "passed" and "0.990" in row[4]


def test_papers_table_lists_all_catalog_papers(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        head, body = paper_table(store)
    assert len(body) == 119 and head[0] == "#"
    by_title = {b[1]: b for b in body}
    assert by_title["Pointer Networks"][4] == "pointer_networks"
    assert by_title["Pointer Networks"][5] == "not run"
