import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "reason.md"


def test_docs_example_runs(capsys):
    block = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[0]
    exec(compile(block, str(DOC), "exec"), {})
    assert capsys.readouterr().out.split() == ["True", "2.0", "True"]


def test_docs_list_every_reasoner_and_reasoning_task():
    from seqlab.registry import names

    text = DOC.read_text()
    assert all(f"`{n}`" in text for n in names("reasoner"))
    assert all(f"`{n}`" in text for n in ("prosqa", "prontoqa", "reachability", "subset_sum", "arithmetic"))


def test_docs_soft_methods_example_runs(capsys):
    """The second example (CCoT, soft tokens) runs and prints what the page says."""
    block = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[1]
    exec(compile(block, str(DOC), "exec"), {})
    assert capsys.readouterr().out.split() == ["1", "[4]", "4", "0.5"]
