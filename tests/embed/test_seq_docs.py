"""docs/embed.md: the sequence-representation example runs."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "embed.md"


def test_sequence_example_runs(capsys):
    section = DOC.read_text().split("## Sequence representations", 1)[1]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    exec(compile(code, str(DOC), "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "True" and out[1] == "True"
    assert out[2] == "torch.Size([3, 32])"
    assert 0.0 <= float(out[3]) <= 1.0
