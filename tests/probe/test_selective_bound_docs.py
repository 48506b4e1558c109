"""The code example of docs/probe.md's section on the selective-SSM bound and checkpoint layer metrics."""

import re
from pathlib import Path

TITLE = "## The selective-SSM bound's length term and layer metrics over training"


def test_docs_example_runs():
    text = (Path(__file__).parents[2] / "docs" / "probe.md").read_text()
    start = text.index(TITLE)
    end = text.find("\n## ", start + len(TITLE))
    blocks = re.findall(r"```python\n(.*?)```", text[start : None if end < 0 else end], flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/probe.md", "exec"), {})
