"""The code example of docs/probe.md's r4-probec section runs."""

import re
from pathlib import Path

SECTION = "## Every probe from the command line; LiDAR and DiME"


def test_docs_example_runs():
    text = (Path(__file__).parents[2] / "docs" / "probe.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    blocks = re.findall(r"```python\n(.*?)```", text[start : None if end < 0 else end], flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/probe.md", "exec"), {})
