import json

import pytest
import torch
from torch import nn

from seqlab.train import Callback, fit, latest_checkpoint, lr_at, masked_accuracy


class Tiny(nn.Module):
    """Embedding -> GRU -> dropout -> head: small, stateful RNG use (dropout) to test resume."""

    def __init__(self, vocab=8, d=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.rnn = nn.GRU(d, d, batch_first=True)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(d, 2)

    def forward(self, x):
        return self.head(self.drop(self.rnn(self.emb(x))[0]))


def parity_batch(step, n=16, length=12):
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.randint(0, 2, (n, length), generator=g)
    return {"inputs": x, "targets": x.cumsum(1) % 2, "mask": torch.ones(n, length, dtype=torch.bool)}


def eval_fn(model):
    b = parity_batch(10**6, n=64)
    return {"accuracy": masked_accuracy(model(b["inputs"]), b)}


def _model():
    torch.manual_seed(0)
    return Tiny()


class Boom(Callback):
    def __init__(self, at):
        self.at = at

    def after_step(self, model, step, metrics):
        if step == self.at:
            raise RuntimeError("simulated crash")


def test_lr_schedule():
    assert lr_at(0, lr=1.0, steps=10, warmup=2, schedule="cosine") == pytest.approx(0.5)
    assert lr_at(2, lr=1.0, steps=10, warmup=2, schedule="cosine") == pytest.approx(1.0)
    assert lr_at(10, lr=1.0, steps=10, warmup=2, schedule="cosine") == pytest.approx(0.0)
    assert lr_at(7, lr=1.0, steps=10, warmup=0, schedule="constant") == 1.0


def test_fit_learns_and_records_history():
    m = _model()
    res = fit(m, parity_batch, steps=60, lr=1e-2, eval_fn=eval_fn, eval_every=20, progress=False)
    assert res.steps_done == 60 and not res.stopped_early
    assert [r["step"] for r in res.history] == [20, 40, 60]
    assert res.history[0]["loss"] > res.loss
    assert res.history[-1]["tokens_per_s"] > 0


@pytest.mark.parametrize("sched", ["cosine", "constant"])
def test_resume_after_crash_is_exact(tmp_path, sched):
    kw = dict(steps=30, lr=3e-3, warmup=5, schedule=sched, eval_fn=eval_fn, eval_every=10, progress=False)
    ref_model = _model()
    ref = fit(ref_model, parity_batch, **kw)
    ref_params = ref_model.state_dict()
    m = _model()
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(m, parity_batch, callbacks=[Boom(17)], checkpoint_dir=tmp_path, checkpoint_every=5, **kw)
    assert latest_checkpoint(tmp_path).name == "step-00000015.json"
    torch.manual_seed(123)  # a fresh process would have other global RNG state; resume must restore it
    m2 = Tiny()  # fresh weights: all state must come from the checkpoint
    res = fit(m2, parity_batch, checkpoint_dir=tmp_path, checkpoint_every=5, resume=True, **kw)
    for k, v in m2.state_dict().items():
        assert torch.equal(v, ref_params[k]), k
    strip = [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in res.history]
    assert strip == [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in ref.history]
    assert res.loss == ref.loss


def test_iterable_batches_resume(tmp_path):
    kw = dict(steps=12, progress=False)
    m_ref = _model()
    fit(m_ref, (parity_batch(s) for s in range(100)), **kw)
    with pytest.raises(RuntimeError):
        fit(
            _model(),
            (parity_batch(s) for s in range(100)),
            callbacks=[Boom(7)],
            checkpoint_dir=tmp_path,
            checkpoint_every=3,
            **kw,
        )
    m = Tiny()
    fit(
        m,
        (parity_batch(s) for s in range(100)),
        checkpoint_dir=tmp_path,
        checkpoint_every=3,
        resume=True,
        **kw,
    )
    for k, v in m.state_dict().items():
        assert torch.equal(v, m_ref.state_dict()[k]), k


def test_early_stopping():
    m = _model()
    res = fit(
        m,
        parity_batch,
        steps=400,
        lr=1e-2,
        eval_fn=eval_fn,
        eval_every=10,
        early_stop=("accuracy", 0.0),
        progress=False,
    )
    assert res.stopped_early and res.steps_done == 10
    with pytest.raises(ValueError, match="early_stop metric 'acc'"):
        fit(
            _model(),
            parity_batch,
            steps=20,
            eval_fn=eval_fn,
            eval_every=10,
            early_stop=("acc", 0.5),
            progress=False,
        )
    with pytest.raises(ValueError, match="needs an eval_fn"):
        fit(_model(), parity_batch, steps=5, early_stop=("accuracy", 0.5), progress=False)


def test_corrupted_checkpoint_raises(tmp_path):
    fit(_model(), parity_batch, steps=6, checkpoint_dir=tmp_path, checkpoint_every=3, progress=False)
    js = latest_checkpoint(tmp_path)
    st = js.with_suffix(".safetensors")
    data = bytearray(st.read_bytes())
    data[-5] ^= 0xFF
    st.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"corrupted checkpoint .*step-00000006\.safetensors"):
        fit(
            Tiny(),
            parity_batch,
            steps=9,
            checkpoint_dir=tmp_path,
            checkpoint_every=3,
            resume=True,
            progress=False,
        )
    js.write_text("{not json")
    with pytest.raises(ValueError, match=r"corrupted checkpoint .*step-00000006\.json"):
        fit(Tiny(), parity_batch, steps=9, checkpoint_dir=tmp_path, resume=True, progress=False)


def test_checkpoint_files_are_safetensors_and_json(tmp_path):
    fit(_model(), parity_batch, steps=4, checkpoint_dir=tmp_path, checkpoint_every=2, progress=False)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["step-00000004.json", "step-00000004.safetensors"]
    meta = json.loads((tmp_path / names[0]).read_text())
    assert meta["step"] == 4 and len(meta["sha256"]) == 64


def test_hooks_order_and_bad_args():
    calls = []

    class Rec(Callback):
        def on_fit_start(self, model, opt):
            calls.append("start")

        def transform_batch(self, model, batch):
            calls.append("batch")
            return batch

        def extra_loss(self, model, batch, outputs):
            calls.append("extra")
            return outputs.sum() * 0

        def after_backward(self, model):
            calls.append("backward")

        def after_step(self, model, step, metrics):
            calls.append(("step", step, "loss" in metrics))

        def on_fit_end(self, model):
            calls.append("end")

    fit(_model(), parity_batch, steps=1, callbacks=[Rec()], progress=False)
    assert calls == ["start", "batch", "extra", "backward", ("step", 1, True), "end"]
    with pytest.raises(ValueError, match="optimizer"):
        fit(_model(), parity_batch, steps=1, optimizer="lion", progress=False)
    with pytest.raises(ValueError, match="CUDA only"):
        fit(_model(), parity_batch, steps=1, amp="bf16", progress=False)
    with pytest.raises(ValueError, match="resume=True needs"):
        fit(_model(), parity_batch, steps=1, resume=True, progress=False)


# -- optimizer parameter groups (train/optim.py) ---------------------------------------------------
def test_param_groups_split_by_dimension_embedding_norm_and_tag():
    from seqlab.models import SequenceModel
    from seqlab.train.optim import no_weight_decay, param_groups, split_decay

    model = SequenceModel(mixer="attention", d_model=16, n_layers=2, vocab_size=10, pos_enc="learned")
    decay, rest = (dict(x) for x in split_decay(model))
    assert set(decay) | set(rest) == {n for n, _ in model.named_parameters()} and not set(decay) & set(rest)
    assert all(p.dim() >= 2 for p in decay.values())
    assert {"embed.weight", "pos.table.weight", "norm.weight", "norm.bias", "head.bias"} <= set(rest)
    assert {"head.weight", "blocks.0.mixer.qkv.weight", "blocks.1.mlp.0.weight"} <= set(decay)
    assert all(n.endswith("bias") or "norm" in n or n in ("embed.weight", "pos.table.weight") for n in rest)
    # the tag moves a matrix to the no-decay group
    no_weight_decay(model.head.weight)
    decay, rest = (dict(x) for x in split_decay(model))
    assert "head.weight" in rest and "head.weight" not in decay
    groups = param_groups(model, 0.1)
    assert [(g["name"], g["weight_decay"]) for g in groups] == [("decay", 0.1), ("no_decay", 0.0)]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    with pytest.raises(ValueError, match="non-negative"):
        param_groups(model, -0.1)
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        param_groups(frozen, 0.1)


def test_fit_decays_only_the_decay_group():
    from seqlab.train.optim import no_weight_decay

    class Probe(Tiny):
        def __init__(self):
            super().__init__()
            self.plain = nn.Parameter(torch.ones(3, 3))
            self.tagged = no_weight_decay(nn.Parameter(torch.ones(3, 3)))
            self.gain = nn.Parameter(torch.ones(3))

        def forward(self, x):  # zero gradient for the probes, so only weight decay moves them
            return super().forward(x) + 0 * (self.plain.sum() + self.tagged.sum() + self.gain.sum())

    seen = {}

    class Groups(Callback):
        def on_fit_start(self, model, opt):
            seen["groups"] = [(g["name"], g["weight_decay"], len(g["params"])) for g in opt.param_groups]

    model = Probe()
    fit(model, parity_batch, steps=5, lr=0.1, weight_decay=0.5, schedule="constant", clip=None,
        callbacks=[Groups()], progress=False)
    assert [g[:2] for g in seen["groups"]] == [("decay", 0.5), ("no_decay", 0.0)]
    assert torch.allclose(model.plain, torch.full((3, 3), (1 - 0.1 * 0.5) ** 5))
    assert torch.equal(model.tagged, torch.ones(3, 3)) and torch.equal(model.gain, torch.ones(3))


SSM_DYNAMICS = (
    "A_log", "log_dt", "dt_bias", "dt_proj.bias", "log_neg_re", ".im", "nu_log", "theta_log", "gamma_log"
)


@pytest.mark.parametrize("mixer", ["mamba", "mamba2", "s4", "s4d", "lru", "s5", "lssl", "samba"])
def test_ssm_dynamics_parameters_are_never_decayed(mixer):
    # S4 and Mamba exclude their eigenvalues / decay rates / step sizes from weight decay
    from seqlab.models import SequenceModel
    from seqlab.train.optim import split_decay

    model = SequenceModel(mixer=mixer, d_model=16, n_layers=1, vocab_size=8)
    decay, rest = (dict(x) for x in split_decay(model))
    dyn = [n for n in rest if any(n.endswith(k) for k in SSM_DYNAMICS)]
    assert dyn, f"{mixer}: no dynamics parameter found among {sorted(rest)}"
    assert not [n for n in decay if any(n.endswith(k) for k in SSM_DYNAMICS)]
