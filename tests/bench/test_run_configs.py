"""RunConfig forms added for the claims: hybrid stacks ("a+b") and the unmasked pointer network."""

import pytest
import torch

from seqlab.bench.run import build_model, build_task, run_one
from seqlab.experiments.config import ConfigError, RunConfig

MQAR = {"vocab_size": 32, "seq_len": 24, "n_pairs": 4}


def test_hybrid_mixer_builds_one_mixer_per_layer():
    cfg = RunConfig(task="mqar", mixer="s4d+attention", task_params=MQAR, d_model=16, n_layers=2)
    model = build_model(cfg, build_task(cfg))
    assert [type(b.mixer).__name__ for b in model.blocks] == ["S4D", "Attention"]
    plain = RunConfig(task="mqar", mixer="s4d", task_params=MQAR, d_model=16, n_layers=2)
    assert cfg.key() != plain.key()


def test_hybrid_mixer_count_must_match_layers():
    cfg = RunConfig(task="mqar", mixer="s4d+attention", task_params=MQAR, d_model=16, n_layers=3)
    with pytest.raises(ValueError, match="names 2 layers.*n_layers=3"):
        build_model(cfg, build_task(cfg))
    bad = RunConfig(task="mqar", mixer="s4d+nope", task_params=MQAR, d_model=16, n_layers=2)
    with pytest.raises(KeyError, match="nope"):
        build_model(bad, build_task(bad))


def test_pointer_mask_reaches_the_model_and_is_validated():
    sort = {"min_length": 2, "max_train_length": 5, "max_test_length": 7}
    cfg = RunConfig(
        task="sorting", mixer="none", task_params=sort, model="pointer_network", pointer_mask=False
    )
    model = build_model(cfg, build_task(cfg))
    assert model.mask_chosen is False
    assert build_model(RunConfig(**{**cfg.to_dict(), "pointer_mask": True}), build_task(cfg)).mask_chosen
    # unmasked, an untrained pointer may choose the same input twice
    x = torch.zeros(1, 4, model.d_input)
    assert model(x).shape == (1, 4, 4)
    with pytest.raises(ConfigError, match="pointer_mask"):
        RunConfig(task="mqar", mixer="s4d", pointer_mask=False)
    with pytest.raises(ConfigError, match="pointer_mask"):
        RunConfig(task="sorting", mixer="none", model="pointer_network", pointer_mask="no")


def test_hybrid_run_trains_end_to_end():
    cfg = RunConfig(
        task="mqar",
        mixer="s4d+attention",
        task_params=MQAR,
        d_model=16,
        n_layers=2,
        steps=3,
        eval_n=8,
        eval_every=3,
        target=None,
        batch_size=4,
    )
    out = run_one(cfg, progress=False)
    assert 0.0 <= out["score"] <= 1.0
