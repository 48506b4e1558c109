"""Data-parallel fit on 2 gloo processes equals one process on the same global batch; faults."""

import os
import signal
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from seqlab.parallel.launch import run_local
from seqlab.train import Callback, fit, latest_checkpoint, load_checkpoint
from seqlab.train.checkpoint import read_checkpoint_meta
from seqlab.train.distributed import DistributedError, shard_batch


class Net(nn.Module):
    def __init__(self, vocab=6, d=12):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.rnn = nn.GRU(d, d, batch_first=True)
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        return self.head(self.rnn(self.emb(x))[0])


def batches(step, n=8, length=10):
    g = torch.Generator().manual_seed(500 + step)
    x = torch.randint(0, 6, (n, length), generator=g)
    return {"inputs": x, "targets": x.cumsum(1) % 3}


def _fit(steps, ckpt=None, resume=False, callbacks=(), every=None):
    torch.manual_seed(0)
    model = Net()
    fit(
        model,
        batches,
        steps=steps,
        lr=3e-2,
        warmup=1,
        progress=False,
        seed=0,
        checkpoint_dir=ckpt,
        checkpoint_every=every if every else (2 if ckpt else None),
        resume=resume,
        callbacks=callbacks,
    )
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _ddp_worker(rank, world, ckpt):
    first = _fit(3, ckpt)  # then a fresh process-set resumes from step 3 to 5
    resumed = _fit(5, ckpt, resume=True)
    return first, resumed


def test_ddp_two_ranks_equal_one_process_and_resume(tmp_path):
    ckpt = str(tmp_path / "ck")
    results = run_local(_ddp_worker, 2, ckpt, timeout_s=120)
    one = str(tmp_path / "one")
    single3, single5 = _fit(3, one), _fit(5, one, resume=True)
    for rank_first, rank_resumed in results:
        for k in single5:
            torch.testing.assert_close(rank_first[k], single3[k], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(rank_resumed[k], single5[k], rtol=1e-5, atol=1e-6)
    meta = read_checkpoint_meta(latest_checkpoint(ckpt))
    assert meta["step"] == 5 and meta["extra"]["world_size"] == 2
    # the same checkpoint resumed by one process (world size 1) is refused, naming both sizes
    with pytest.raises(ValueError, match=r"world_size=2 .* world_size=1"):
        _fit(7, ckpt, resume=True)


class KillRank1(Callback):
    def __init__(self, at_step):
        self.at_step, self.step = at_step, 0

    def after_backward(self, model):
        pass

    def transform_batch(self, model, batch):
        self.step += 1
        if self.step == self.at_step and int(os.environ["RANK"]) == 1:
            os.kill(os.getpid(), signal.SIGKILL)  # dies mid-step, before the gradient all-reduce
        return batch


def _kill_worker(rank, world, ckpt):
    _fit(6, ckpt, callbacks=[KillRank1(4)], every=1)


def test_dead_rank_gives_clear_error_and_last_complete_checkpoint(tmp_path):
    ckpt = str(tmp_path / "ck")
    outcomes = run_local(_kill_worker, 2, ckpt, timeout_s=60, allow_failures=True)
    assert outcomes[1] == ("exit", -signal.SIGKILL)
    kind, text = outcomes[0]
    assert kind == "error" and DistributedError.__name__ in text
    assert "rank 0 of 2" in text and "during step 4" in text
    path = latest_checkpoint(ckpt)
    meta = load_checkpoint(path, Net())
    assert meta["step"] == 3  # steps 1-3 completed on both ranks; step 4 never did


class StallRank1(Callback):
    """Rank 1 stops answering (no crash) for longer than the process group timeout."""

    def __init__(self, at_step, seconds):
        self.at_step, self.seconds, self.step = at_step, seconds, 0

    def transform_batch(self, model, batch):
        self.step += 1
        if self.step == self.at_step and int(os.environ["RANK"]) == 1:
            time.sleep(self.seconds)
        return batch


def _stall_worker(rank, world, ckpt):
    _fit(4, ckpt, callbacks=[StallRank1(2, 8.0)], every=1)


def test_stalled_rank_times_out_with_clear_error_not_a_hang(tmp_path):
    ckpt = str(tmp_path / "ck")
    outcomes = run_local(_stall_worker, 2, ckpt, timeout_s=5, allow_failures=True)
    kind, text = outcomes[0]
    assert kind == "error" and DistributedError.__name__ in text and "during step 2" in text
    assert outcomes[1][0] != "ok"  # rank 1 finds its peer gone when it wakes up
    assert read_checkpoint_meta(latest_checkpoint(ckpt))["step"] == 1


def _split_dirs_worker(rank, world, root):
    try:
        _fit(4, os.path.join(root, f"rank{rank}"), resume=True)
    except ValueError as err:
        return str(err)
    return "resumed"


def test_ranks_that_see_different_checkpoints_refuse_to_resume(tmp_path):
    _fit(2, str(tmp_path / "rank0"))  # only rank 0's folder holds a checkpoint (a node-local disk)
    got = run_local(_split_dirs_worker, 2, str(tmp_path), timeout_s=60)
    for text in got:
        assert "disagree on the checkpoint to resume" in text and "[2, -1]" in text


def test_shard_batch_slices_and_refuses_uneven():
    b = batches(0)
    parts = [shard_batch(b, r, 4) for r in range(4)]
    torch.testing.assert_close(torch.cat([p["inputs"] for p in parts]), b["inputs"])
    with pytest.raises(ValueError, match="does not split evenly over world_size=3"):
        shard_batch(b, 0, 3)
    with pytest.raises(ValueError, match="share their first"):
        shard_batch({"inputs": torch.zeros(4, 2), "targets": torch.zeros(2)}, 0, 2)


def test_group_created_by_init_distributed_is_destroyed_before_interpreter_exit():
    # A gloo group left to interpreter teardown can abort the process ("terminate called without an
    # active exception") after a successful run. An exit hook registered *before* init runs *after*
    # seqlab's own hook (LIFO), so it sees whether the group was already destroyed.
    import subprocess
    import sys

    from seqlab.parallel.launch import free_port

    code = (
        "import atexit, torch.distributed as dist\n"
        "atexit.register(lambda: print('initialized at exit:', dist.is_initialized()))\n"
        "from seqlab.train.distributed import init_distributed\n"
        "print('world', init_distributed()[1])\n"
    )
    env = {
        **os.environ,
        "RANK": "0",
        "WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "world 1" in done.stdout and "initialized at exit: False" in done.stdout, done.stdout
