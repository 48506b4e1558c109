import re

from seqlab.bench.findings import check_findings
from seqlab.bench.report import SPEED_HINT, write_report
from seqlab.bench.run import run_one
from seqlab.experiments.config import RunConfig
from seqlab.experiments.store import ResultStore


def _fake_row(task, mixer, width, n_pairs=None, score=0.5, ood=None, rpe=None):
    cfg = RunConfig(
        task=task,
        mixer=mixer,
        d_model=width,
        task_params={"n_pairs": n_pairs} if n_pairs else {},
        randomized_positions=rpe,
    )
    res = {
        "metric": "accuracy",
        "score": score,
        "id": {"accuracy": score},
        "ood_lengths": [20, 40] if ood else [],
        "ood": [ood, ood] if ood else [],
        "ood_score": ood,
        "train_lengths": [1, 10] if ood else None,
        "steps_done": 100,
        "stopped_early": False,
        "final_loss": 0.1,
        "params": 1000,
        "state_floats": 64 * width,
        "tokens_per_s": 1e4,
        "wall_time": 3.0,
        "history": [
            {"step": 50, "loss": 1.0, "eval": 1.0, "accuracy": score / 2},
            {"step": 100, "loss": 0.5, "eval": 1.0, "accuracy": score},
        ],
    }
    return cfg, res


def test_report_from_fake_store(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        for m, base in (("attention", 1.0), ("lstm", 0.6)):
            for w in (32, 64):
                for n in (4, 16):
                    store.put(*_fake_row("mqar", m, w, n, score=base if m == "attention" else base / (n / 4)))
        store.put(*_fake_row("streaming_parity", "lstm", 32, score=1.0, ood=1.0))
        store.put(*_fake_row("streaming_parity", "attention", 32, score=1.0, ood=0.6))
        store.put(*_fake_row("even_pairs", "attention", 32, score=1.0, ood=0.6, rpe=256))
        store.put(*_fake_row("even_pairs", "attention", 32, score=1.0, ood=0.7))
        rows = store.rows()
    findings = check_findings(rows)
    # the findings are claims over 3 seeds of their own runs; these ad-hoc rows are not theirs
    assert [f[1] for f in findings] == ["not run"] * 4
    html_path = write_report(
        rows,
        tmp_path / "rep",
        findings=findings,
        claims=(["a"], [["b"]]),
        speed_json=tmp_path / "missing.json",
    )
    out = tmp_path / "rep"
    for name in (
        "accuracy_vs_width.png",
        "accuracy_vs_state_size.png",
        "length_generalization.png",
        "training_curves.png",
        "summary.md",
        "report.html",
    ):
        assert (out / name).stat().st_size > 100, name
    page = html_path.read_text()
    assert page.count("data:image/png;base64,") == 4
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page), "the page must not load anything remotely"
    md = (out / "summary.md").read_text()
    assert "| mqar |" in md and SPEED_HINT in md and "not run" in md


def test_speed_table_read_from_json(tmp_path):
    speed = tmp_path / "speed.json"
    speed.write_text('{"config": {"quick": true}, "results": [{"mixer": "s4d", "length": 1024, "ms": 1.5}]}')
    write_report([], tmp_path / "rep", speed_json=speed)
    md = (tmp_path / "rep" / "summary.md").read_text()
    assert "| s4d | 1024 | 1.5 |" in md


def test_run_one_end_to_end(toy_components):
    cfg = RunConfig(
        task="_toy_parity",
        mixer="_toy_cummean",
        d_model=8,
        n_layers=1,
        steps=20,
        eval_every=10,
        batch_size=8,
        eval_n=16,
        task_params={"max_train": 4},
    )
    res = run_one(cfg)
    assert res["metric"] == "accuracy" and 0 <= res["score"] <= 1
    assert res["ood_lengths"] == [5, 6, 8, 9, 11, 12] and len(res["ood"]) == 6
    assert res["state_floats"] == 8 + 1  # running sum (d_model) + count, one layer
    assert [h["step"] for h in res["history"]] == [10, 20]
    noisy = run_one(cfg.replace(state_init="noise"))
    assert noisy["score"] != res["score"] or noisy["final_loss"] != res["final_loss"]


def test_stale_rows_are_marked_in_the_report(tmp_path, monkeypatch):
    from seqlab.experiments import store as store_mod

    db = tmp_path / "s.sqlite"
    monkeypatch.setattr(store_mod, "git_commit", lambda: "a" * 40)
    with ResultStore(db) as store:
        store.put(*_fake_row("mqar", "lstm", 32, 4, score=0.5))
    monkeypatch.setattr(store_mod, "git_commit", lambda: "b" * 40)
    with ResultStore(db) as store:
        store.put(*_fake_row("mqar", "attention", 32, 4, score=0.9))
        path = write_report(store.rows(), tmp_path / "rep", current_version=store.code_version)
    page = path.read_text()
    assert page.count('<tr class="stale">') == 1 and "stale: made by another code version (1 rows)" in page
    assert "1 rows were made by another code version" in page and "--rerun-stale" in page


def test_accuracy_axes_are_fixed_and_legends_name_every_line():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqlab.bench.report import _legend, _metric_axis

    fig, (a, b) = plt.subplots(1, 2)
    for i in range(11):
        a.plot([0, 1], [0.1 * i, 0.2], label=f"line {i}")
    _metric_axis(a, "accuracy")
    _legend(a, 11)
    _metric_axis(b, "log_loss")
    b.plot([0, 1], [3.0, 5.0])
    assert a.get_ylim() == (-0.02, 1.02) and a.get_ylabel() == "accuracy"
    assert [t.get_text() for t in a.get_legend().get_texts()] == [f"line {i}" for i in range(11)]
    assert b.get_ylim()[1] > 4.9  # other metrics keep their own range
    plt.close(fig)


def test_speed_section_falls_back_to_the_committed_baseline(tmp_path, monkeypatch):
    import seqlab.bench.report as rep

    base = tmp_path / "speed.json"
    base.write_text(
        '{"environment": {"cpu_count": 2, "machine": "x86_64", "torch": "2.13.0", "load_avg_start": 3.1}, '
        '"results": [{"mixer": "lru", "length": 256, "ms": 2.5}]}'
    )
    monkeypatch.setattr(rep, "SPEED_DEFAULT", tmp_path / "no-local-run.json")
    monkeypatch.setattr(rep, "committed_speed_json", lambda: base)
    write_report([], tmp_path / "rep")
    md = (tmp_path / "rep" / "summary.md").read_text()
    assert "| lru | 256 | 2.5 |" in md
    assert "committed baseline" in md and "2-core x86_64" in md
    monkeypatch.setattr(rep, "committed_speed_json", lambda: tmp_path / "none.json")
    write_report([], tmp_path / "rep2")
    assert SPEED_HINT in (tmp_path / "rep2" / "summary.md").read_text()
