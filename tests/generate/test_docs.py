"""docs/generate.md's example runs."""

import re
from pathlib import Path


def test_docs_example_runs(capsys):
    text = (Path(__file__).parents[2] / "docs" / "generate.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/generate.md", "exec"), {})
    out = capsys.readouterr().out
    assert "torch.Size([4, 16, 2])" in out and "torch.Size([4, 24, 2])" in out
    naive, fixed = (float(line.split()[1]) for line in out.splitlines() if line.startswith("invert_"))
    assert fixed < naive
