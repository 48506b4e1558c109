"""The implemented / partial / not-implemented table and the ``seqlab papers`` command built on it."""

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from seqlab.cli import main
from seqlab.commands import papers as cmd
from seqlab.papers import TITLES, paper_rows
from seqlab.papers.status import STATUS, Judgement, judgement
from seqlab.registry import all_entries

TESTS = Path(__file__).resolve().parents[1]
# kinds whose every component is exercised by tests parametrised over the registry
CONTRACT_KINDS = {"mixer", "positional", "task", "strategy", "tokenizer"}


def test_every_judged_title_is_a_catalog_title():
    assert set(STATUS) <= set(TITLES)


def test_every_credited_paper_has_an_explicit_judgement():
    credited = {t for e in all_entries() for t in e.used_by} | {
        p.title for e in all_entries() for p in e.implements if p.title in TITLES
    }
    assert credited - set(STATUS) == set()


def _is_tested(entry, test_text: str) -> bool:
    """Exercised by the tests: a kind covered by registry-wide tests, or its name or class named there."""
    if entry.kind in CONTRACT_KINDS:
        return True
    quoted = re.search(rf"[\"']{re.escape(entry.name)}[\"']", test_text)
    return bool(quoted) or re.search(rf"\b{re.escape(entry.obj.__name__)}\b", test_text) is not None


def test_an_implemented_paper_has_a_tested_component_implementing_it():
    test_text = "\n".join(
        p.read_text() for p in TESTS.rglob("*.py") if p.resolve() != Path(__file__).resolve()
    )
    entries = {f"{e.kind}:{e.name}": e for e in all_entries()}
    for row in paper_rows():
        if row.status != "implemented":
            continue
        assert row.implemented_by, f"{row.title!r} is judged implemented but no component implements it"
        tested = [ref for ref in row.implemented_by if _is_tested(entries[ref], test_text)]
        assert tested, f"{row.title!r}: none of {row.implemented_by} appears in a test"


def test_judgements_other_than_implemented_must_say_what_is_missing():
    with pytest.raises(ValueError, match="what is missing"):
        Judgement("partial", "the layer exists")
    with pytest.raises(ValueError, match="status must be one of"):
        Judgement("done", "")
    assert all(j.status == "implemented" or "missing" in j.note for j in STATUS.values())


def test_rows_carry_the_judgement_and_unjudged_papers_are_not_implemented():
    rows = {r.title: r for r in paper_rows()}
    assert len(rows) == len(TITLES)
    for title, j in STATUS.items():
        assert (rows[title].status, rows[title].note) == (j.status, j.note)
    unjudged = [t for t in TITLES if t not in STATUS]
    assert unjudged and all(rows[t].status == "not implemented" and not rows[t].components for t in unjudged)
    assert judgement("no such paper").status == "not implemented"


# -- seqlab papers ------------------------------------------------------------------------------------
@dataclass
class FakeResult:
    status: str
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    seeds: int = 0
    seconds: float | None = None
    figure: str = ""


@dataclass
class FakeClaim:
    name: str
    title: str
    result: FakeResult

    def evaluate(self, store):
        return self.result


@dataclass
class OldClaim:  # a claim with only status(store) -> (status, figure)
    name: str
    title: str

    def status(self, store):
        return "not run", "0/3 runs stored"


POINTER = "Pointer Networks"
PARITY = "Algorithm Development in Neural Networks: Insights from the Streaming Parity Task"


@pytest.fixture
def fake_claims(monkeypatch):
    claims = {
        POINTER: [
            FakeClaim("ptr_a", POINTER, FakeResult("passed", 0.91, 0.88, 0.94, 3, 12.5, "acc 0.91")),
            FakeClaim("ptr_b", POINTER, FakeResult("inconclusive", 0.5, 0.1, 0.9, 3, 10.0, "wide")),
        ],
        PARITY: [
            FakeClaim("parity", PARITY, FakeResult("failed", 0.52, 0.50, 0.54, 5, 30.0, "chance")),
            OldClaim("parity_old", PARITY),
        ],
    }
    monkeypatch.setattr(cmd, "_claims_by_title", lambda: claims)
    return claims


def test_json_prints_every_row_with_claim_fields_and_matching_counts(fake_claims, capsys, tmp_path):
    assert main(["papers", "--json", "--store", str(tmp_path / "none.sqlite")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["papers"]) == len(TITLES)
    by = {r["title"]: r for r in out["papers"]}
    ptr = by[POINTER]
    assert set(ptr) >= {"title", "module", "status", "components", "claims"}
    assert ptr["claims"][0] == {
        "name": "ptr_a",
        "status": "passed",
        "mean": 0.91,
        "low": 0.88,
        "high": 0.94,
        "seeds": 3,
        "seconds": 12.5,
        "figure": "acc 0.91",
    }
    assert [c["status"] for c in by[PARITY]["claims"]] == ["failed", "not run"]
    assert by[PARITY]["claims"][1]["mean"] is None
    s = out["summary"]
    assert s["claims"] == {"passed": 1, "failed": 1, "inconclusive": 1, "not run": 1}
    assert sum(s["papers"].values()) == len(TITLES)
    for status in ("implemented", "partial", "not implemented"):
        assert s["papers"][status] == sum(r["status"] == status for r in out["papers"])


def test_module_filter_keeps_one_module_and_unknown_module_is_an_error(fake_claims, capsys, tmp_path):
    store = ["--store", str(tmp_path / "none.sqlite")]
    assert main(["papers", "--json", "--module", "tasks", *store]) == 0
    rows = json.loads(capsys.readouterr().out)["papers"]
    assert rows and {r["module"] for r in rows} == {"tasks"}
    assert len(rows) == sum(m == "tasks" for _, m, _ in TITLES.values())
    assert main(["papers", "--module", "nope", *store]) == 2
    assert "unknown module 'nope'" in capsys.readouterr().err


def test_table_fits_120_columns_and_shows_summary_and_claims(fake_claims, tmp_path):
    records = cmd.paper_records(None)
    console = Console(width=120, file=io.StringIO(), record=True)
    console.print(cmd.render(records, "seqlab papers"))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 120
    assert "1 passed, 1 failed, 1 inconclusive, 1 not run" in re.sub(r"\s+", " ", text)
    pointer = [line for line in text.splitlines() if "Pointer Networks" in line][0]
    assert "passed 0.91 [0.88," in pointer and "ptr_a" in pointer  # the interval folds onto the next line


def test_cli_table_prints_counts(fake_claims, capsys, tmp_path):
    assert main(["papers", "--implemented", "--store", str(tmp_path / "none.sqlite")]) == 0
    out = re.sub(r"\s+", " ", capsys.readouterr().out)
    assert re.search(r"\d+ papers: \d+ implemented, \d+ partial, \d+ not implemented", out)


def test_an_unknown_claim_status_is_refused():
    bad = FakeClaim("bad", POINTER, FakeResult("sort of"))
    with pytest.raises(ValueError, match="expected one of"):
        cmd.claim_result(bad, None)


def test_list_shows_the_implemented_paper_per_component(capsys):
    assert main(["list", "tokenizers"]) == 0
    out = re.sub(r"\s+", " ", capsys.readouterr().out)
    assert "1711.00937" in out and "2410.06424" in out and "2310.05737" in out
    assert "Beyond Orthography" not in out


def test_claim_result_reads_the_claim_protocols_result_type():
    from seqlab.experiments.claim import ClaimResult

    r = ClaimResult(
        "failed", 0.4, 0.3, float("nan"), 3, 42.0, "acc 0.4", "control 0.99 >= 0.9", {"chance": 0.5}
    )
    out = cmd.claim_result(FakeClaim("real", POINTER, r), None)
    assert out == {
        "name": "real",
        "status": "failed",
        "mean": 0.4,
        "low": 0.3,
        "high": None,
        "seeds": 3,
        "seconds": 42.0,
        "figure": "acc 0.4",
    }  # a non-finite bound is reported as null (JSON has no NaN)


def test_real_claims_are_not_run_without_a_store():
    records = cmd.paper_records(None)
    claims = [c for r in records for c in r["claims"]]
    assert claims and all(c["status"] == "not run" and c["mean"] is None for c in claims)
