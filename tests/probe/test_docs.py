"""The code examples of docs/probe.md's sections "Interaction operators, relevance and concept geometry"
and "Onion representations, length gaps and representation flow"."""

import re
from pathlib import Path

import pytest

SECTIONS = {
    "## Interaction operators, relevance and concept geometry": 4,
    "## Onion representations, length gaps and representation flow": 2,
}


@pytest.mark.parametrize("section_title", sorted(SECTIONS))
def test_docs_examples_run(section_title):
    text = (Path(__file__).parents[2] / "docs" / "probe.md").read_text()
    start = text.index(section_title)
    end = text.find("\n## ", start + len(section_title))
    section = text[start : None if end < 0 else end]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == SECTIONS[section_title]
    env: dict = {}
    for block in blocks:  # later blocks use names of earlier ones, as a reader would run them
        exec(compile(block, "docs/probe.md", "exec"), env)
