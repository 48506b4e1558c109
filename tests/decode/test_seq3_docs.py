"""The python example of docs/decode_methods.md (SEQ^3, Se^2, ST) runs."""

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_decode_methods_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "decode_methods.md").read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/decode_methods.md", "exec"), {})
