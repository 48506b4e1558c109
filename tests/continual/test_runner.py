import pytest
import torch

from seqlab.continual import make_strategy, run
from seqlab.continual.scenarios import online
from seqlab.train.checkpoint import CheckpointError, latest_checkpoint


@pytest.mark.parametrize("name", ["ewc", "si", "replay", "sema", "online_transformer", "icarl"])
def test_resume_between_experiences_gives_identical_results(name, digits_streams, tiny_cfg, tmp_path):
    stream = digits_streams["class"]
    full = run(make_strategy(name, seed=3), stream, tiny_cfg, seed=3)
    run(make_strategy(name, seed=3), stream, tiny_cfg, seed=3, checkpoint_dir=tmp_path, stop_after=2)
    resumed = run(make_strategy(name, seed=3), stream, tiny_cfg, seed=3, checkpoint_dir=tmp_path, resume=True)
    assert resumed.R == full.R
    assert resumed.compat == full.compat


def test_checkpoint_is_the_one_training_format(digits_streams, tiny_cfg, tmp_path):
    stream = digits_streams["task"]
    run(make_strategy("ewc"), stream, tiny_cfg, checkpoint_dir=tmp_path, stop_after=2)
    path = latest_checkpoint(tmp_path)
    assert path.name == "step-00000002.json" and path.with_suffix(".safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000002.json", "step-00000002.safetensors"]


def test_damaged_or_foreign_checkpoint_raises(digits_streams, tiny_cfg, tmp_path):
    stream = digits_streams["task"]
    run(make_strategy("finetune"), stream, tiny_cfg, checkpoint_dir=tmp_path, stop_after=1)
    with pytest.raises(CheckpointError, match="belongs to strategy"):
        run(make_strategy("lwf"), stream, tiny_cfg, checkpoint_dir=tmp_path, resume=True)
    tensors = latest_checkpoint(tmp_path).with_suffix(".safetensors")
    tensors.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupted checkpoint .*step-00000001.safetensors"):
        run(make_strategy("finetune"), stream, tiny_cfg, checkpoint_dir=tmp_path, resume=True)
    tensors.unlink()
    with pytest.raises(CheckpointError, match="tensor file .* is missing"):
        run(make_strategy("finetune"), stream, tiny_cfg, checkpoint_dir=tmp_path, resume=True)


def test_online_stream_is_one_pass_scored_before_training(digits_streams, tiny_cfg):
    stream = online(digits_streams["class"])
    res = run(make_strategy("replay_reservoir", budget=40), stream, tiny_cfg, compat=False)
    n_train = sum(len(e.y_train) for e in stream.experiences)
    assert len(res.online) == sum(-(-len(e.y_train) // tiny_cfg.online_batch) for e in stream.experiences)
    assert n_train > 0 and 0.0 < res.summary["online_acc"] < 1.0
    # the very first batch is scored by the untrained model, before it is trained on
    fresh = make_strategy("replay_reservoir", budget=40)
    fresh.setup(stream, tiny_cfg)
    torch.manual_seed(0)
    model = fresh.build_model()
    exp = stream.experiences[0]
    idx = torch.randperm(len(exp.y_train), generator=torch.Generator().manual_seed(0))[
        : tiny_cfg.online_batch
    ]
    scores = model(exp.x_train[idx]).masked_fill(~stream.active(exp.t_train[idx], 1), -1e9)
    assert res.online[0] == pytest.approx(float((scores.argmax(1) == exp.y_train[idx]).float().mean()))


def test_same_seed_same_numbers(digits_streams, tiny_cfg):
    a = run(make_strategy("lwf", seed=1), digits_streams["domain"], tiny_cfg, seed=1, compat=False)
    b = run(make_strategy("lwf", seed=1), digits_streams["domain"], tiny_cfg, seed=1, compat=False)
    assert a.R == b.R
