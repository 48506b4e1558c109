from seqlab.experiments import report as rep
from seqlab.experiments.report import Section, build_report, register_section, section_names


def _row(kind, key, version, stale, **cfg):
    return {"kind": kind, "key": key, "config": cfg, "result": {}, "code_version": version, "stale": stale}


def test_sections_are_pluggable_ordered_and_escaped(tmp_path, monkeypatch):
    monkeypatch.setattr(rep, "_SOURCES", dict(rep._SOURCES))
    seen = {}

    @register_section("test.late", order=90)
    def late(rows, context):
        return Section("Late <b>", html="<p>late</p>", markdown="late", order=90)

    @register_section("test.early", order=5)
    def early(rows, context):
        seen["context"] = context
        kinds = sorted({r["kind"] for r in rows})
        return rep.table_section("Kinds", ["kind"], [[k] for k in kinds] + [["<script>x</script>"]], order=5)

    @register_section("test.none", order=6)
    def nothing(rows, context):
        return None

    assert {"test.late", "test.early", "test.none"} <= set(section_names())
    rows = [_row("bench", "a", "c1", False), _row("speed", "b", "c0", True)]
    path = build_report(
        rows, tmp_path / "r", title="T & t", context={"x": 1}, names=["test.late", "test.early", "test.none"]
    )
    page = path.read_text()
    assert seen["context"]["x"] == 1 and seen["context"]["out_dir"] == tmp_path / "r"
    assert page.index("Provenance") < page.index("Kinds") < page.index("Late &lt;b&gt;")
    assert "<script>" not in page and "&lt;script&gt;" in page and "T &amp; t" in page
    md = (tmp_path / "r" / "summary.md").read_text()
    assert "| speed |" in md and "late" in md


def test_provenance_section_counts_versions_and_marks_stale():
    rows = [_row("bench", str(i), "a" * 40, False) for i in range(3)]
    rows += [_row("bench", "x", "b" * 40, True), _row("continual", "y", None, True)]
    s = rep.provenance_section(rows, current="a" * 40)
    assert "| bench | aaaaaaaaaaaa | current | 3 |" in s.markdown
    assert "| bench | bbbbbbbbbbbb | stale | 1 |" in s.markdown
    assert "| continual | unknown (stored before provenance was recorded) | stale | 1 |" in s.markdown
    assert "2 rows were made by another code version" in s.markdown and "--rerun-stale" in s.markdown
    assert "another code version" not in rep.provenance_section(rows[:3], current="a" * 40).markdown


def test_unknown_section_name_is_an_error():
    import pytest

    with pytest.raises(ValueError, match="unknown report section"):
        rep.build_sections([], {}, names=["nope"])
