"""``seqlab recsys``: --threads/--seeds/--set parsing, one torch thread per model run, and the resumable
per-(model, seed) cache under ``--out``."""

import json

import pytest
import torch

from seqlab import cli
from seqlab.commands import recsys as cmd


def test_parse_seeds_threads_and_sets():
    assert cmd.parse_seeds(None, 4) == [4]
    assert cmd.parse_seeds("0, 1,2", 9) == [0, 1, 2]
    for bad in ("", "a,b", "1,1", "-1"):
        with pytest.raises(ValueError, match="--seeds takes"):
            cmd.parse_seeds(bad, 0)
    assert cmd.parse_threads(1) == 1 and cmd.parse_threads(3) == 3
    for bad in (0, -2, True, 1.5):
        with pytest.raises(ValueError, match="--threads must be an integer >= 1"):
            cmd.parse_threads(bad)
    sets = cmd.parse_sets(
        ["recformer.max_steps=200", "grid.lr=0.01", "grid.method=rqvae"], ["grid", "recformer"]
    )
    assert sets == {"recformer": {"max_steps": 200}, "grid": {"lr": 0.01, "method": "rqvae"}}
    assert isinstance(sets["recformer"]["max_steps"], int)
    with pytest.raises(ValueError, match="MODEL.KEY=VALUE"):
        cmd.parse_sets(["recformer=3"], ["recformer"])
    with pytest.raises(ValueError, match="not among --models"):
        cmd.parse_sets(["sasrec.epochs=2"], ["recformer"])


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--threads", "0"], "--threads must be"),
        (["--seeds", "0,0"], "--seeds takes"),
        (["--set", "bpr.epochs=1"], "not among --models"),
    ],
)
def test_command_names_bad_options(argv, match, capsys):
    assert cli.main(["recsys", "--models", "popularity", *argv]) == 2
    assert match in capsys.readouterr().err


class _Probe:
    """A recommender stand-in that records the torch thread count it was trained under."""

    train_seconds = 0.0

    def __init__(self, seen):
        self.seen = seen

    def fit(self, split):
        self.seen.append(torch.get_num_threads())
        return self


def test_measure_trains_with_the_requested_threads_and_restores_them(monkeypatch):
    import seqlab.recsys.base as base
    import seqlab.recsys.experiments as ex

    seen = []
    monkeypatch.setattr(ex, "build", lambda name, seed, **kw: _Probe(seen))
    monkeypatch.setattr(base, "evaluate", lambda model, split: {k: 0.0 for k in cmd.METRICS})
    before = torch.get_num_threads()
    for threads in (1, 2):
        row = cmd.measure("sasrec", None, 0, {}, threads)
        assert row["threads"] == threads and row["cpu_seconds"] >= 0
    assert seen == [1, 2]
    assert torch.get_num_threads() == before


def test_cache_resumes_and_recomputes_only_the_missing_cell(tmp_path, monkeypatch):
    argv = ["recsys", "--models", "popularity,sasrec", "--epochs", "1", "--users", "40", "--seeds", "0,1"]
    argv += ["--out", str(tmp_path), "--json"]
    calls = []
    real = cmd.measure

    def counted(name, split, seed, overrides, threads):
        calls.append((name, seed))
        return real(name, split, seed, overrides, threads)

    monkeypatch.setattr(cmd, "measure", counted)
    assert cli.main(argv) == 0
    assert sorted(calls) == [("popularity", 0), ("popularity", 1), ("sasrec", 0), ("sasrec", 1)]
    cells = json.loads((tmp_path / cmd.CELLS).read_text())
    assert len(cells) == 4
    table = json.loads((tmp_path / "recsys_table.json").read_text())
    assert set(table["models"]) == {"popularity", "sasrec"} and table["threads"] == 1
    rec = [c["recall@10"] for k, c in cells.items() if json.loads(k)["model"] == "sasrec"]
    assert table["models"]["sasrec"]["recall@10"] == pytest.approx(sum(rec) / 2)
    md = (tmp_path / "recsys_table.md").read_text()
    assert "| sasrec | " in md and "--epochs 1" in md

    dropped = cmd.cell_key("ml-100k", "sasrec", 1, 40, {"epochs": 1})
    kept = {k: v for k, v in cells.items() if k != dropped}
    assert len(kept) == 3
    (tmp_path / cmd.CELLS).write_text(json.dumps(kept))
    calls.clear()
    assert cli.main(argv) == 0
    assert calls == [("sasrec", 1)]
    again = json.loads((tmp_path / cmd.CELLS).read_text())
    assert set(again) == set(cells) and all(again[k] == v for k, v in kept.items())

    calls.clear()  # a different budget is a different cell: nothing reused
    assert cli.main([*argv, "--set", "sasrec.max_len=20", "--models", "sasrec", "--seeds", "0"]) == 0
    assert calls == [("sasrec", 0)]
    assert "| sasrec (max_len=20) |" in (tmp_path / "recsys_table.md").read_text()


def test_corrupt_cache_is_a_clear_error(tmp_path, capsys):
    (tmp_path / cmd.CELLS).write_text("{not json")
    assert cli.main(["recsys", "--models", "popularity", "--users", "20", "--out", str(tmp_path)]) == 2
    assert "is not a JSON cache" in capsys.readouterr().err
