"""The code examples of docs/probe.md's section "Interaction operators, relevance and concept geometry"."""

import re
from pathlib import Path

SECTION = "## Interaction operators, relevance and concept geometry"


def test_docs_examples_run():
    text = (Path(__file__).parents[2] / "docs" / "probe.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : None if end < 0 else end]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 4
    env: dict = {}
    for block in blocks:  # later blocks use names of earlier ones, as a reader would run them
        exec(compile(block, "docs/probe.md", "exec"), env)
