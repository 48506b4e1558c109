import json

import pytest

from seqlab.cli import main
from seqlab.continual.protocol import read_rows, run_protocol, table, write_report
from seqlab.continual.strategy import TrainConfig


def test_protocol_saves_cells_and_skips_them_on_restart(tmp_path):
    cfg = TrainConfig(steps=3, batch_size=16, hidden=16)
    rows = run_protocol(
        "split-digits",
        ["finetune", "recall"],
        ["task", "domain"],
        [0, 1],
        cfg,
        tmp_path,
        workers=1,
        log=lambda *_: None,
    )
    assert len(rows) == 8
    refused = [r for r in rows if "refused" in r]
    assert {(r["strategy"], r["scenario"]) for r in refused} == {("recall", "domain")}
    lines = (tmp_path / "split-digits.jsonl").read_text().splitlines()
    assert len(lines) == 8
    logs = []
    again = run_protocol(
        "split-digits",
        ["finetune", "recall"],
        ["task", "domain"],
        [0, 1],
        cfg,
        tmp_path,
        workers=1,
        log=logs.append,
    )
    assert "8 cells already done, 0 to run" in logs[0] and len(again) == 8
    md = table(again)
    assert "| recall |" in md and "n/a" in md and "+-" in md
    path = write_report(again, "split-digits", tmp_path, "seqlab continual ...")
    assert "Refused combinations" in path.read_text()


def test_torn_last_line_is_dropped_but_damage_elsewhere_raises(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps({"a": 1}) + "\n" + '{"b": ')
    assert read_rows(p) == [{"a": 1}]
    p.write_text('{"b": \n' + json.dumps({"a": 1}) + "\n")
    with pytest.raises(ValueError, match="line 1"):
        read_rows(p)


def test_cli_quick_run_and_bad_names(tmp_path, capsys):
    rc = main(
        [
            "continual",
            "--protocol",
            "split-digits",
            "--strategies",
            "nmc,fly_cl",
            "--scenarios",
            "class",
            "--quick",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0 and (tmp_path / "split-digits.md").exists()
    assert main(["continual", "--protocol", "split-cifar", "--out", str(tmp_path)]) == 2
    assert main(["continual", "--strategies", "nope", "--out", str(tmp_path)]) == 2
    assert "valid names" in capsys.readouterr().err


def test_list_strategies_shows_paper_and_scenarios(capsys):
    assert main(["list", "strategies"]) == 0
    out = capsys.readouterr().out
    assert "fly_cl" in out and "scenarios" in out


def test_failing_cell_is_recorded_and_retried(tmp_path, monkeypatch):
    import seqlab.continual.protocol as proto

    cfg = TrainConfig(steps=2, batch_size=8, hidden=8)

    def boom(*a, **k):
        raise ValueError("training loss became nan")

    monkeypatch.setattr(proto, "run", boom)
    rows = run_protocol(
        "split-digits", ["finetune"], ["class"], [0], cfg, tmp_path, workers=1, log=lambda *_: None
    )
    assert "nan" in rows[0]["error"] and "error" in table(rows)
    monkeypatch.undo()
    rows = run_protocol(
        "split-digits", ["finetune"], ["class"], [0], cfg, tmp_path, workers=1, log=lambda *_: None
    )
    assert "avg_acc" in rows[0]


def test_online_and_blurry_protocol_modifiers():
    from seqlab.continual.protocol import make_stream

    s = make_stream("online-blurry20-split-digits", "class")
    assert s.online and s.name.startswith("online-blurry")
    with pytest.raises(ValueError, match="blurry"):
        make_stream("blurryx-split-digits", "class")
    with pytest.raises(ValueError, match="unknown protocol"):
        make_stream("online-split-cifar", "class")
