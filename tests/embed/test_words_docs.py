"""docs/embed.md: the word-embedding example runs."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "embed.md"


def test_word_embedding_example_runs(capsys):
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)[0]
    exec(compile(code, str(DOC), "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert "torch.Size([2, 32])" in out[2] and int(out[3]) > 0
