"""docs/distributed.md: its training script gives the same weights in one process and under torchrun."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqlab.parallel.launch import free_port

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "distributed.md"


def _script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks and "fit(" in blocks[0]
    return blocks[0]


@pytest.mark.slow
def test_doc_script_under_torchrun_equals_one_process(tmp_path, monkeypatch):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    monkeypatch.chdir(one)
    exec(compile(_script(), "docs/distributed.md", "exec"), {})
    (two / "train_parity.py").write_text(_script())
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2"]
    cmd += ["--master_addr", "127.0.0.1", "--master_port", str(free_port()), "train_parity.py"]
    done = subprocess.run(cmd, cwd=two, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = torch.load(one / "parity.pt"), torch.load(two / "parity.pt")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-6, msg=k)
    assert sorted(p.name for p in (two / "ckpt-parity").iterdir()) == [
        "step-00000006.json",
        "step-00000006.safetensors",
    ]


def test_doc_context_parallel_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 2 and "context_parallel" in blocks[1]
    exec(compile(blocks[1], "docs/distributed.md", "exec"), {"__name__": "docs_example"})


def test_doc_names_the_torchrun_command_lines():
    text = DOC.read_text()
    assert "torchrun --nproc_per_node 2 train_parity.py" in text
    assert "--nnodes 2" in text and "2403.10266" in text
