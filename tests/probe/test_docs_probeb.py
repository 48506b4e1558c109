"""The code examples of docs/probe.md's section on onion representations, length gaps and flow."""

import re
from pathlib import Path

SECTION = "## Onion representations, length gaps and representation flow"


def test_docs_examples_run():
    text = (Path(__file__).parents[2] / "docs" / "probe.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : None if end < 0 else end]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2
    env: dict = {}
    for block in blocks:
        exec(compile(block, "docs/probe.md", "exec"), env)
