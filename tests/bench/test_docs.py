import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("page", ["train.md", "bench.md", "papers.md"])
def test_doc_example_runs(page):
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.S)
    assert blocks, f"{page} has no python example"
    for code in blocks:
        exec(compile(code, str(DOCS / page), "exec"), {})
