"""``seqlab bench`` under torchrun: each run trained data-parallel by all ranks, rank 0 writes the store."""

import textwrap

import pytest

from seqlab import cli
from seqlab.experiments.store import ResultStore
from seqlab.parallel.launch import run_local

GRID = """\
name: ddp
defaults: {steps: 6, eval_every: 3, eval_n: 16, batch_size: 8, target: null}
experiments:
  - task: streaming_parity
    task_params: {max_train_length: 6, max_test_length: 8}
    mixers: [lstm]
    widths: [8]
    seeds: [0, 1]
"""


def _bench(grid, store):
    return cli.main(["bench", "--grid", grid, "--store", store, "--no-report", "--workers", "0"])


def _rank(rank, world, grid, store):
    return _bench(grid, store)


def test_two_ranks_store_the_rows_of_one_process(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(textwrap.dedent(GRID))
    ddp, one = str(tmp_path / "ddp.sqlite"), str(tmp_path / "one.sqlite")
    assert run_local(_rank, 2, str(grid), ddp, timeout_s=300) == [0, 0]
    assert _bench(str(grid), one) == 0
    with ResultStore(ddp) as a, ResultStore(one) as b:
        rows_a = {r["key"]: r["result"] for r in a.rows(kind="bench")}
        rows_b = {r["key"]: r["result"] for r in b.rows(kind="bench")}
    assert set(rows_a) == set(rows_b) and len(rows_a) == 2  # each run stored once, by rank 0
    for key, ra in rows_a.items():
        assert abs(ra["score"] - rows_b[key]["score"]) < 1e-5
        losses = [h["loss"] for h in rows_b[key]["history"] if "loss" in h]
        assert losses and [h["loss"] for h in ra["history"] if "loss" in h] == pytest.approx(
            losses, rel=1e-4, abs=1e-5
        )
    # a second sweep under torchrun finds everything stored and trains nothing
    assert run_local(_rank, 2, str(grid), ddp, timeout_s=300) == [0, 0]
    with ResultStore(ddp) as a:
        assert len(a.rows(kind="bench")) == 2
