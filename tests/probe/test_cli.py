"""``seqlab probe NAME --model <checkpoint>`` and ``seqlab list probes``."""

import json

import pytest
import torch

from seqlab.cli import main
from seqlab.models import SequenceModel
from seqlab.probe.extract import load_model
from seqlab.registry import entries
from seqlab.train.checkpoint import save_checkpoint

CFG = {"mixer": "attention", "d_model": 16, "n_layers": 2, "vocab_size": 12, "pos_enc": "sinusoidal"}


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    model = SequenceModel(**CFG)
    return save_checkpoint(tmp_path / "ck", 5, model, None, [], extra={"model": CFG}), model


def test_load_model_restores_the_checkpoint(ckpt):
    path, model = ckpt
    loaded = load_model(str(path.parent))
    ids = torch.randint(0, 12, (2, 5))
    assert torch.allclose(loaded(ids), model.eval()(ids))


@pytest.mark.parametrize("probe", ["layers", "cka", "collisions", "sipit"])
def test_probe_command_prints_a_table_and_writes_plot_and_json(ckpt, tmp_path, capsys, probe):
    path, _ = ckpt
    out = tmp_path / "rep"
    argv = ["probe", probe, "--model", str(path), "--prompts", "6", "--length", "5", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "layer" in text or "prompt" in text
    assert (out / "probe" / f"{probe}.png").stat().st_size > 1000
    data = json.loads((out / "probe" / f"{probe}.json").read_text())
    assert data["probe"] == probe and data["prompts"] == 6
    if probe == "sipit":
        assert data["recovered"] == 1.0
    if probe == "collisions":
        assert data["collisions"] == 0 or data["min_distance"][0] == 0.0
    if probe == "cka":
        assert all(abs(data["cka"][i][i] - 1) < 1e-9 for i in range(3))


def test_bad_model_is_a_clear_error(tmp_path, capsys):
    assert main(["probe", "layers", "--model", str(tmp_path / "nope.json")]) != 0
    assert "--model must be one of" in capsys.readouterr().err


def test_checkpoint_without_config_names_the_fix(tmp_path, capsys):
    path = save_checkpoint(tmp_path / "c", 1, SequenceModel(**CFG), None, [])
    assert main(["probe", "cka", "--model", str(path), "--out", str(tmp_path)]) != 0
    assert "--model-config" in capsys.readouterr().err
    assert (
        main(
            ["probe", "cka", "--model", str(path), "--model-config", json.dumps(CFG), "--out", str(tmp_path)]
        )
        == 0
    )


def test_list_probes_shows_every_probe_with_its_paper(capsys):
    assert main(["list", "probes"]) == 0
    out = capsys.readouterr().out
    names = {e.name: e for e in entries("probe")}
    for name in [
        "cka",
        "svcca",
        "mutual_knn",
        "sipit",
        "collision_test",
        "layer_flow",
        "prompt_entropy",
        "curvature",
        "augmentation_invariance",
    ]:
        assert name in names and names[name].implements and name in out
    assert "2405.07987" in out and "2510.15511" in out


def test_docs_example_runs():
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "probe.md"
    text = page.read_text()
    other = text.find("## Interaction operators")  # that section's examples run in tests/probe/test_docs.py
    blocks = re.findall(r"```python\n(.*?)```", text[: other if other >= 0 else None], flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/probe.md", "exec"), {})
