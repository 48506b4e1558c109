import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "reason.md"


def test_part_b_docs_example_runs(capsys):
    blocks = [b for b in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S) if "grid_nav" in b]
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {})
    assert capsys.readouterr().out.splitlines() == ["True", "(1, 2, 16)", "True", "True"]


def test_part_b_docs_name_the_task_methods_and_claims():
    text = DOC.read_text()
    names = ("grid_nav", "continuous_memory", "cocomix", "ccdd", "cot2_mnns_v2", "cocomix_lee", "ccdd_mnns")
    for name in names:
        assert f"`{name}`" in text
