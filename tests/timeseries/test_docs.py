"""docs/timeseries.md's example runs."""

import re
from pathlib import Path


def test_docs_example_runs(capsys):
    text = (Path(__file__).parents[2] / "docs" / "timeseries.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/timeseries.md", "exec"), {})
    out = capsys.readouterr().out
    assert "generated (39, 32, 1)" in out and "forecast (39, 8, 1)" in out
