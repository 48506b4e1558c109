import dataclasses

import pytest

from seqlab.cli import main
from seqlab.continual.protocol import ContinualCell, run_protocol, stored_rows, table, write_report
from seqlab.continual.report import html_section
from seqlab.continual.strategy import TrainConfig
from seqlab.experiments.store import ResultStore


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
    with ResultStore(tmp_path / "results.sqlite") as store:
        stored = store.rows(kind="continual")
        assert len(stored) == 8 and store.keys("bench") == set()
        assert all(r["name"] == "split-digits" and not r["stale"] for r in stored)
        assert {"seqlab", "commit", "torch", "device"} <= set(stored[0]["provenance"])
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


def test_cell_key_hashes_only_the_fields_that_were_set():
    cell = ContinualCell("split-digits", "ewc", "class", 0, TrainConfig(steps=3))
    assert cell.key() == ContinualCell("split-digits", "ewc", "class", 0, TrainConfig(steps=3)).key()
    assert cell.key() != ContinualCell("split-digits", "ewc", "class", 1, TrainConfig(steps=3)).key()
    assert cell.key() != ContinualCell("split-digits", "ewc", "class", 0, TrainConfig(steps=4)).key()

    # a field added to TrainConfig later, left at its default, does not change the key
    @dataclasses.dataclass
    class Wider(TrainConfig):
        warmup_steps: int = 0

    wider = ContinualCell("split-digits", "ewc", "class", 0, Wider(steps=3))
    assert wider.key() == cell.key()
    assert (
        ContinualCell("split-digits", "ewc", "class", 0, Wider(steps=3, warmup_steps=5)).key() != cell.key()
    )


def test_continual_html_section_escapes_and_marks_stale_rows():
    base = {"protocol": "p<1>", "strategy": "ewc", "scenario": "class", "forgetting": 0.1}
    rows = [
        {**base, "seed": 0, "avg_acc": 0.5},
        {**base, "seed": 1, "avg_acc": 0.7, "stale": True},
        {
            "protocol": "p<1>",
            "strategy": "recall",
            "scenario": "domain",
            "seed": 0,
            "refused": "needs <task>",
        },
    ]
    section = html_section(rows)
    assert "<h3>p&lt;1&gt;</h3>" in section and "<p<1>" not in section
    assert "60.0 +- 10.0†" in section and "needs &lt;task&gt;" in section and "n/a" in section
    assert "seqlab continual" in html_section([])


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
            "--store",
            str(tmp_path / "s.sqlite"),
        ]
    )
    assert rc == 0 and (tmp_path / "split-digits.md").exists()
    rows = stored_rows(tmp_path / "s.sqlite", "split-digits")
    assert {(r["strategy"], r["seed"]) for r in rows} == {(s, k) for s in ("nmc", "fly_cl") for k in (0, 1)}
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


def test_a_killed_cell_resumes_from_its_checkpoint_with_identical_results(tmp_path, monkeypatch):
    import seqlab.continual.runner as runner_mod
    from seqlab.continual import make_strategy, run
    from seqlab.continual.protocol import make_stream

    cfg = TrainConfig(steps=3, batch_size=16, hidden=16)
    cell = ContinualCell("split-digits", "finetune", "class", 0, cfg)
    stream = make_stream("split-digits", "class")
    full = run(make_strategy("finetune", seed=0), stream, cfg, seed=0)
    # a protocol killed after two experiences of this cell left its checkpoint where the runner keeps it
    ckpt = tmp_path / "checkpoints" / cell.key()
    run(make_strategy("finetune", seed=0), stream, cfg, seed=0, checkpoint_dir=ckpt, stop_after=2)
    fits = []
    real_fit = runner_mod.fit
    monkeypatch.setattr(runner_mod, "fit", lambda *a, **k: fits.append(1) or real_fit(*a, **k))
    rows = run_protocol(
        "split-digits",
        ["finetune"],
        ["class"],
        [0],
        cfg,
        tmp_path / "md",
        workers=1,
        log=lambda *_: None,
        store=tmp_path / "store.sqlite",
    )
    assert len(fits) == len(stream) - 2  # only the experiences after the checkpoint were trained
    assert rows[0]["R"] == full.R and rows[0]["avg_acc"] == full.summary["avg_acc"]
    assert not ckpt.exists()  # removed once the row is stored
