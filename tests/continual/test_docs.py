import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "continual.md"


def test_docs_example_runs():
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert code
    ns: dict = {}
    exec(code[0], ns)  # noqa: S102 - our own documentation example
    assert 0.0 <= ns["result"].summary["avg_acc"] <= 1.0 and len(ns["result"].R) == 5
