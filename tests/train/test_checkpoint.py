"""Checkpoint faults: each corruption is an error naming the file and the way out; kills leave no trap."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from seqlab.train import fit
from seqlab.train.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    read_checkpoint_meta,
    remove_stale_files,
    save_checkpoint,
)

SRC = Path(__file__).resolve().parents[2] / "src"
RECOVER = r"delete the folder .* or run without --resume"


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))


def _trained(tmp_path, steps=(3, 6)):
    """A folder holding the checkpoint of the last of ``steps`` (older ones deleted by the save)."""
    m = _model()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    for s in steps:
        m(torch.randn(5, 4)).square().mean().backward()
        opt.step()
        opt.zero_grad()
        js = save_checkpoint(tmp_path, s, m, opt, [{"step": s, "loss": 1.0 / s}])
    return m, opt, js


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _rewrite(js: Path, **changes):
    """Edit the JSON and recompute its own checksum (a consistent but wrong file)."""
    from seqlab.train.checkpoint import _payload_digest

    meta = json.loads(js.read_text())
    meta.update(changes)
    meta["json_sha256"] = _payload_digest(meta)
    js.write_text(json.dumps(meta))


def test_round_trip_restores_everything_and_extras(tmp_path):
    m, opt, _ = _trained(tmp_path)
    js = save_checkpoint(
        tmp_path, 9, m, opt, [], extra={"task": "a", "seen": [1, 2]}, extra_tensors={"buf": torch.arange(3.0)}
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000009.json", "step-00000009.safetensors"]
    m2, opt2 = _model(seed=1), None
    opt2 = torch.optim.AdamW(m2.parameters(), lr=1e-2)
    meta = load_checkpoint(latest_checkpoint(tmp_path), m2, opt2)
    assert meta["step"] == 9 and meta["extra"] == {"task": "a", "seen": [1, 2]}
    assert torch.equal(meta["extra_tensors"]["buf"], torch.arange(3.0))
    for k, v in m.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k]), k
    assert js == latest_checkpoint(tmp_path)


def test_edited_json_fails_its_checksum(tmp_path):
    _, _, js = _trained(tmp_path)
    js.write_text(js.read_text().replace('"step": 6', '"step": 600'))
    with pytest.raises(CheckpointError, match=rf"step-00000006\.json: .*json_sha256 checksum.*{RECOVER}"):
        load_checkpoint(js, _model())


def test_bad_step_value_is_refused(tmp_path):
    _, _, js = _trained(tmp_path)
    _rewrite(js, step=600)
    with pytest.raises(
        CheckpointError, match=r"step-00000006\.json: 'step' is 600 but the file name says step 6"
    ):
        read_checkpoint_meta(js)
    _rewrite(js, step="6")
    with pytest.raises(CheckpointError, match=r"key 'step' must be of type int, got '6'"):
        read_checkpoint_meta(js)


def test_missing_keys_are_named(tmp_path):
    _, _, js = _trained(tmp_path)
    meta = json.loads(js.read_text())
    del meta["history"], meta["optimizer"]
    js.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=rf"missing key\(s\) \['history', 'optimizer'\].*{RECOVER}"):
        load_checkpoint(js, _model())
    js.write_text("[1, 2]")
    with pytest.raises(CheckpointError, match=r"expected a JSON object, got list"):
        load_checkpoint(js, _model())


def test_truncated_files_name_the_file(tmp_path):
    _, _, js = _trained(tmp_path)
    st = js.with_suffix(".safetensors")
    st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=rf"step-00000006\.safetensors: SHA-256 .*truncated.*{RECOVER}"):
        load_checkpoint(js, _model())
    js.write_text(js.read_text()[:40])
    with pytest.raises(CheckpointError, match=r"step-00000006\.json: cannot read its JSON .*truncated"):
        load_checkpoint(js, _model())
    js.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"step-00000006\.json: cannot read its JSON"):
        load_checkpoint(js, _model())


def test_json_without_tensors(tmp_path):
    _, _, js = _trained(tmp_path)
    js.with_suffix(".safetensors").unlink()
    with pytest.raises(
        CheckpointError, match=rf"step-00000006\.json: its tensor file .* is missing.*{RECOVER}"
    ):
        fit(_model(), lambda s: None, steps=9, checkpoint_dir=tmp_path, resume=True, progress=False)


def test_tensors_without_json_never_restart_from_zero(tmp_path):
    _, _, js = _trained(tmp_path)
    js.unlink()
    with pytest.raises(
        CheckpointError, match=rf"step-00000006\.safetensors: tensor file without its JSON.*{RECOVER}"
    ):
        fit(_model(), lambda s: None, steps=9, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert (tmp_path / "step-00000006.safetensors").exists()  # the evidence is kept


def test_checkpoint_beyond_the_run_is_an_error(tmp_path):
    _trained(tmp_path)
    with pytest.raises(ValueError, match=r"at step 6, beyond steps=4 of this run"):
        fit(_model(), lambda s: None, steps=4, checkpoint_dir=tmp_path, resume=True, progress=False)


def test_checkpoint_of_another_model_is_an_error(tmp_path):
    _, _, js = _trained(tmp_path)
    with pytest.raises(CheckpointError, match=r"safetensors: its model tensors do not fit this model"):
        load_checkpoint(js, nn.Linear(4, 2))


def test_stale_tmp_files_are_removed_on_save_and_load(tmp_path):
    m, opt, js = _trained(tmp_path)
    dead, live = _dead_pid(), os.getppid()
    stale = tmp_path / f".step-00000009.safetensors.tmp{dead}"
    stale.write_bytes(b"partial")
    busy = tmp_path / f".step-00000009.json.tmp{live}"  # a live process's write is left alone
    busy.write_bytes(b"{")
    load_checkpoint(latest_checkpoint(tmp_path), _model())
    assert not stale.exists() and busy.exists()
    stale.write_bytes(b"partial")
    save_checkpoint(tmp_path, 9, m, opt, [])
    assert not stale.exists()
    busy.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000009.json", "step-00000009.safetensors"]


def test_interrupted_save_falls_back_to_the_previous_checkpoint(tmp_path):
    _, _, js = _trained(tmp_path)
    dead = _dead_pid()
    # a save of step 9 killed after its tensor file, before its JSON
    (tmp_path / "step-00000009.safetensors").write_bytes(js.with_suffix(".safetensors").read_bytes())
    (tmp_path / f".step-00000009.saving{dead}").touch()
    assert latest_checkpoint(tmp_path) == js
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000006.json", "step-00000006.safetensors"]
    assert remove_stale_files(tmp_path) == []


KILLED_WRITER = textwrap.dedent(
    """
    import sys, torch
    from torch import nn
    from seqlab.train.checkpoint import save_checkpoint
    torch.manual_seed(0)
    m = nn.Sequential(*[nn.Linear(64, 64) for _ in range(8)])
    opt = torch.optim.AdamW(m.parameters())
    print("ready", flush=True)
    for step in range(1, 100000):
        with torch.no_grad():
            for p in m.parameters():
                p.fill_(float(step))
        save_checkpoint(sys.argv[1], step, m, opt, [{"step": step}])
    """
)


@pytest.mark.slow
def test_kill_9_during_saves_leaves_a_loadable_checkpoint(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    for attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3 + 0.2 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        js = latest_checkpoint(tmp_path)
        assert js is not None
        m = nn.Sequential(*[nn.Linear(64, 64) for _ in range(8)])
        meta = load_checkpoint(js, m)
        assert all(torch.all(p == float(meta["step"])) for p in m.parameters())
        left = sorted(p.name for p in tmp_path.iterdir())
        assert not [n for n in left if n.startswith(".")], left  # no temporary file, no marker
        assert js.with_suffix(".safetensors").name in left
