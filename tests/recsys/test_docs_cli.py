"""docs/recsys.md's example runs; the ``seqlab recsys`` command prints the table and names bad input."""

import json
import re
from pathlib import Path

import pytest

from seqlab import cli

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "recsys.md").read_text(), flags=re.S)
    assert blocks
    for i, block in enumerate(blocks):  # the module's example, then the sections' (Recformer, ...)
        exec(compile(block, f"docs/recsys.md block {i}", "exec"), {})


def test_recsys_command_prints_the_side_by_side_table(capsys):
    assert (
        cli.main(
            [
                "recsys",
                "--dataset",
                "ml-100k",
                "--models",
                "popularity,sasrec",
                "--epochs",
                "1",
                "--users",
                "60",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| model | Recall@10 | NDCG@10 | Recall@20 | NDCG@20 | train s |" in out
    assert re.search(r"\| popularity \| 0\.\d{4} \|", out) and "| sasrec |" in out
    assert cli.main(["recsys", "--models", "popularity", "--users", "50", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert (
        set(res) == {"popularity"} and 0 <= res["popularity"]["recall@10"] <= res["popularity"]["recall@20"]
    )


@pytest.mark.parametrize(
    "argv, match", [(["--models", "bpr"], "--models takes"), (["--users", "0"], "users")]
)
def test_recsys_command_bad_input(argv, match, capsys):
    assert cli.main(["recsys", *argv]) != 0
    assert re.search(match, capsys.readouterr().err)
