import re
from pathlib import Path

from seqlab.registry import names

DOC = Path(__file__).resolve().parents[2] / "docs" / "tasks.md"


def _blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_docs_example_runs(capsys):
    exec(compile(_blocks()[0], str(DOC), "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "torch.Size([4, 25]) 4 3" and out[1].endswith("2]") and out[2] == "16"


def test_docs_pointer_example_runs(capsys):
    exec(compile(_blocks()[1], str(DOC), "exec"), {})
    assert capsys.readouterr().out.strip() == "tensor(True)"


def test_docs_table_lists_every_task():
    text = DOC.read_text()
    missing = [n for n in names("task") if f"`{n}`" not in text]
    assert not missing
