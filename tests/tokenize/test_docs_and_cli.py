import json
import re
from pathlib import Path

from seqlab.cli import main
from seqlab.registry import entries

DOC = Path(__file__).resolve().parents[2] / "docs" / "tokenize.md"


def test_docs_example_runs(capsys):
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    exec(compile(code, str(DOC), "exec"), {})
    assert "+0.125 -0.730" in capsys.readouterr().out


def test_every_tokenizer_is_documented_and_cites_a_paper():
    text = DOC.read_text()
    for e in entries("tokenizer"):
        assert f"`{e.name}`" in text
        assert e.implements


def test_vqtoken_demo_command(capsys):
    assert main(["tokenize", "vqtoken-demo", "--frames", "6", "--height", "10", "--width", "10",
                 "--dim", "16", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["reduction_ratio"] < 0.02 and rep["relative_mse"] <= 0.05
    assert rep["tokens"] <= rep["generating_prototypes"]
