"""``seqlab probe NAME`` for every registered probe on tiny checkpoints (and one SmolLM2 run)."""

import json

import pytest
import torch

from seqlab.cli import main
from seqlab.models import SequenceModel
from seqlab.probe.runners import ALIASES, RUNNERS
from seqlab.registry import entries
from seqlab.train.checkpoint import save_checkpoint

ATTN = {"mixer": "attention", "d_model": 16, "n_layers": 2, "vocab_size": 12, "pos_enc": "sinusoidal"}
MAMBA = {"mixer": "mamba", "d_model": 16, "n_layers": 2, "vocab_size": 12}
NEEDS_WORDS = {"concept_geometry", "categorical_simplex", "concept_frame", "concept_guided_decoding",
               "concept_guided_hidden"}  # fmt: skip


def _ckpt(tmp, cfg, seed=0):
    torch.manual_seed(seed)
    return save_checkpoint(
        tmp / f"ck{seed}{cfg['mixer']}", 5, SequenceModel(**cfg), None, [], extra={"model": cfg}
    )


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("probec")
    return {"attention": _ckpt(tmp, ATTN), "attention2": _ckpt(tmp, ATTN, 1), "mamba": _ckpt(tmp, MAMBA)}


def test_every_registered_probe_has_a_runner():
    assert {e.name for e in entries("probe")} <= set(RUNNERS)
    assert set(ALIASES.values()) <= set(RUNNERS)


def _run(argv, tmp_path, capsys):
    out = tmp_path / "rep"
    rc = main([*argv, "--prompts", "4", "--length", "6", "--out", str(out)])
    return rc, capsys.readouterr(), out


REGISTERED = {e.name for e in entries("probe")} | {"layers"}  # runners of probes not on this branch: untested


@pytest.mark.parametrize("probe", sorted(REGISTERED - NEEDS_WORDS))
def test_probe_runs_on_a_checkpoint(ckpts, tmp_path, capsys, probe):
    model = ckpts["mamba" if probe == "mamba_lrp" else "attention"]
    extra = ["--with", str(ckpts["attention2"])] if probe == "concatenated_runs" else []
    rc, cap, out = _run(["probe", probe, "--model", str(model), *extra], tmp_path, capsys)
    assert rc == 0, cap.err
    header = cap.out.splitlines()[0]
    assert len(cap.out.splitlines()) >= 3 and header.split()[0] in {
        "layer", "prompt", "n", "duration", "position", "head/channel", "features",
    }  # fmt: skip
    assert (out / "probe" / f"{probe}.png").stat().st_size > 1000
    data = json.loads((out / "probe" / f"{probe}.json").read_text())
    assert data["probe"] == probe
    if probe == "cka":
        assert all(abs(data["cka"][i][i] - 1) < 1e-9 for i in range(3))
    if probe in ("svcca", "mutual_knn"):
        assert abs(data["last"][-1] - 1) < 1e-6  # a layer with itself
    if probe == "sipit":
        assert data["recovered"] == 1.0
    if probe == "interaction_operator":
        assert data["exact"] and data["reconstruction_error"] < 1e-4  # W v reproduces the attention output
    if probe == "mamba_lrp":
        assert max(data["lrp_gap"]) < 1e-3  # MambaLRP conserves relevance (with the bias term)
    if probe == "integrated_gradients":
        assert max(data["completeness_gap"]) < 0.2
    if probe == "continuous_time":
        assert data["unit_vs_plain_rel_gap"] < 1e-4 and data["kl"][2] < 1e-9  # d = 1 is the plain model


@pytest.mark.parametrize("probe", sorted(NEEDS_WORDS))
def test_word_probes_name_what_a_checkpoint_lacks(ckpts, tmp_path, capsys, probe):
    rc, cap, _ = _run(["probe", probe, "--model", str(ckpts["attention"])], tmp_path, capsys)
    assert rc != 0 and "needs a model with a tokenizer" in cap.err


@pytest.mark.parametrize(
    "probe, model, needs",
    [
        ("mamba_lrp", "attention", "Mamba mixers"),
        ("concatenated_runs", "attention", "--with"),
    ],
)
def test_inapplicable_probe_is_a_clear_error(ckpts, tmp_path, capsys, probe, model, needs):
    rc, cap, _ = _run(["probe", probe, "--model", str(ckpts[model])], tmp_path, capsys)
    assert rc != 0 and needs in cap.err


def test_collisions_alias_and_layer_out_of_range(ckpts, tmp_path, capsys):
    rc, cap, out = _run(["probe", "collisions", "--model", str(ckpts["attention"])], tmp_path, capsys)
    assert rc == 0 and (out / "probe" / "collisions.json").exists()
    rc, cap, _ = _run(["probe", "interaction_operator", "--model", str(ckpts["attention"]), "--layer", "5"],
                      tmp_path, capsys)  # fmt: skip
    assert rc != 0 and "block index in [0, 1]" in cap.err


@pytest.mark.slow
def test_smollm2_collisions_and_minilm_concepts(tmp_path, capsys):
    rc, cap, out = _run(["probe", "collision_test", "--model", "smollm2-135m"], tmp_path, capsys)
    assert rc == 0, cap.err
    data = json.loads((out / "probe" / "collision_test.json").read_text())
    assert len(data["min_distance"]) == 31 and min(data["min_distance"][1:]) > 1e-3  # injective past layer 0
    rc, cap, _ = _run(["probe", "concept_geometry", "--model", "minilm-l6"], tmp_path, capsys)
    assert rc != 0 and "unembedding" in cap.err


def test_docs_section_names_every_runner_and_its_example_runs():
    import re
    from pathlib import Path

    page = (Path(__file__).parents[2] / "docs" / "probe.md").read_text()
    section = page.split("## Every probe from the command line", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{name}`" in section for name in RUNNERS)
    (example,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    exec(compile(example, "docs/probe.md", "exec"), {})
