"""seqlab's recommenders vs RecBole's SASRec and GRU4Rec on MovieLens-100K.

Three modes::

    python benchmarks/recsys.py --anchor [--anchor-runs seqlab:sasrec,recbole:SASRec,...]
    python benchmarks/recsys.py [--epochs 8] [--recbole-epochs 1] [--no-recbole] [--seed 0]
    python benchmarks/recsys.py --speed-only [--recbole-batches 40]

``--anchor`` (the anchor at a converged budget; ``recsys_anchor.{json,md}``): seqlab's SASRec and
GRU4Rec and RecBole's, each trained until its validation metric stops improving and evaluated at its
best epoch, all under one evaluation. RecBole runs its own data pipeline, model and ``Trainer.fit``
(with its early-stopping rule, ``stopping_step``); seqlab's models train exactly as
``NextItemRecommender.fit`` does, with the same rule (:class:`EarlyStop`) applied after each window
epoch. The validation score is NDCG@10 with seen items excluded for both. Three things are made the
same on purpose (each was different before, or is different in RecBole by default):

* the data: RecBole 1.2.1 ignores ``data_path`` for a dataset named ``ml-100k`` and reads its bundled
  copy, whose histories it orders by a *stable* sort on timestamp (ties keep file order); seqlab breaks
  ties by item index. The anchor writes the same rows, pre-sorted by (timestamp, item index), as a
  dataset of another name, and checks that every user's validation/test target and model input match
  seqlab's split (``split_check``; :func:`tie_order_differences` counts the users the bundled order
  would change);
* the metric: RecBole's full-sort evaluation of *sequential* models does not exclude the user's
  history (``FullSortEvalDataLoader`` gives them no ``history_index``), seqlab's does. The runner
  writes each best epoch's full score matrices (``.npy``, no pickle) in seqlab's user and item order,
  and this process ranks them with ``seqlab.recsys.metrics``, with and without the exclusion;
* the checkpoint: the runner keeps the best epoch's outputs instead of pickling the model, so no
  ``torch.load`` of RecBole's checkpoint happens anywhere.

Default mode: popularity, SASRec, GRU4Rec, GRID, ... through ``seqlab.recsys.experiments.compare``
(fixed epochs, evaluated once) beside RecBole's SASRec and GRU4Rec after ``--recbole-epochs`` epochs
with RecBole's own evaluation (bundled data, seen items *not* excluded), and the throughput table.

RecBole 1.2.1 cannot live in seqlab's environment (``np.float`` needs numpy < 1.24,
``ray<=2.6.3``, and its trainer reloads its checkpoint with a bare ``torch.load``). This script runs
it in its own virtual environment (``$SEQLAB_RECBOLE_VENV``, default ``/tmp/rbenv``, created on first
use)::

    python3 -m venv --system-site-packages /tmp/rbenv
    /tmp/rbenv/bin/pip install recbole==1.2.1 'numpy<1.24' 'pandas<2.1' 'scipy<1.12' 'setuptools<70'

(the venv reuses the system torch; ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` lets RecBole's bare
``torch.load`` read back its own checkpoint in the default mode's subprocess -- seqlab never loads
RecBole's pickles). RecBole's config: ``LS`` (leave-one-out) split by time, full ranking, CE loss,
2 blocks / d 64 / 1 head / inner 64 / dropout 0.2 for SASRec, d 64 for GRU4Rec, max length 50, batch
256, lr 5e-3 (seqlab's settings). RecBole trains on every prefix of every sequence (one target per
sample, ~380 optimizer steps per epoch); seqlab on windows of 50 with the loss at every position (~10
steps per epoch): one epoch of either supervises every training target once.

Throughput: training targets per second and full-ranking users per second, by CPU and wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import torch

VENV = Path(os.environ.get("SEQLAB_RECBOLE_VENV", "/tmp/rbenv"))
PIP = ["recbole==1.2.1", "numpy<1.24", "pandas<2.1", "scipy<1.12", "setuptools<70"]
ANCHOR_DATASET = "ml-100k-seqlab-order"  # not "ml-100k": see extract_atomic
OUT = Path(__file__).parent / "results" / "cpu-2core" / "recsys.json"

RUNNER = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
from recbole.quick_start import run_recbole
cfg = json.loads(sys.argv[2])
t0 = time.perf_counter()
res = run_recbole(model=sys.argv[1], dataset="ml-100k", config_dict=cfg, saved=True)
wall = time.perf_counter() - t0
test = {k.lower(): float(v) for k, v in dict(res["test_result"]).items()}
print("RECBOLE_RESULT " + json.dumps({"test": test, "wall_seconds": wall}))
"""


THROUGHPUT_RUNNER = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.utils import get_model, init_seed
cfg = json.loads(sys.argv[2])
n_batches, n_eval = int(sys.argv[3]), int(sys.argv[4])
config = Config(model=sys.argv[1], dataset="ml-100k", config_dict=cfg)
init_seed(config["seed"], config["reproducibility"])
dataset = create_dataset(config)
train_data, valid_data, test_data = data_preparation(config, dataset)
model = get_model(config["model"])(config, train_data._dataset)
opt = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
model.train()
seen = 0
c0, w0 = time.process_time(), time.perf_counter()
for b, inter in enumerate(train_data):
    if b == n_batches:
        break
    loss = model.calculate_loss(inter)
    opt.zero_grad()
    loss.backward()
    opt.step()
    seen += len(inter)
train_cpu, train_wall = time.process_time() - c0, time.perf_counter() - w0
model.eval()
users = 0
c0, w0 = time.process_time(), time.perf_counter()
with torch.no_grad():
    for inter, history_index, _, _ in test_data:
        scores = model.full_sort_predict(inter).view(len(inter), -1)
        scores[:, 0] = -float("inf")
        if history_index is not None:
            scores[history_index] = -float("inf")
        torch.topk(scores, 20, dim=1)
        users += len(inter)
        if users >= n_eval:
            break
rank_cpu, rank_wall = time.process_time() - c0, time.perf_counter() - w0
out = {"train_targets": seen, "train_cpu_s": train_cpu, "train_wall_s": train_wall,
       "rank_users": users, "rank_cpu_s": rank_cpu, "rank_wall_s": rank_wall,
       "items": int(dataset.item_num)}
print("RECBOLE_SPEED " + json.dumps(out))
"""


ANCHOR_RUNNER = r"""
import json, sys, time
from pathlib import Path
import numpy as np
import torch
torch.set_num_threads(1)
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.utils import get_model, get_trainer, init_seed

name, cfg, out, data_name = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
ref = json.loads((out / "histories.json").read_text())
config = Config(model=name, dataset=data_name, config_dict=cfg)
init_seed(config["seed"], config["reproducibility"])
dataset = create_dataset(config)
train_data, valid_data, test_data = data_preparation(config, dataset)
init_seed(config["seed"], config["reproducibility"])
model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
# seqlab's order: row u = ref["users"][u], column i = ref["items"][i - 1], column 0 = RecBole's padding id
row_of = {tok: r for r, tok in enumerate(ref["users"])}
known = set(dataset.field2id_token["item_id"][1:])
unknown = [t for t in ref["items"] if t not in known]
col = torch.tensor([0] + [int(dataset.token2id("item_id", t)) if t in known else 0 for t in ref["items"]])
STAGES = {"valid": valid_data, "test": test_data}


@torch.no_grad()
def score_matrix(loader):
    model.eval()
    S = torch.full((len(ref["users"]), len(col)), float("nan"))
    split = {}
    for inter, _, _, _ in loader:
        s = model.full_sort_predict(inter).view(len(inter), -1)[:, col]
        users = dataset.id2token("user_id", inter["user_id"].numpy())
        rows = torch.tensor([row_of[u] for u in users])
        S[rows] = s.float()
        for u, hist, n, tgt in zip(users, inter["item_id_list"], inter["item_length"], inter["item_id"]):
            split[u] = {"history": list(dataset.id2token("item_id", hist[: int(n)].numpy())),
                        "target": str(dataset.id2token("item_id", [int(tgt)])[0])}
    return S, split


def masked_metrics(S, stage):
    # seen items (full history, seqlab indices) and padding excluded, the target kept; 0-based rank with
    # ties broken by the lower index; Recall@K and NDCG@K
    S = S.clone()
    tgt = torch.tensor(ref[stage]["target"])
    keep = S[torch.arange(len(tgt)), tgt].clone()
    S[:, 0] = -float("inf")
    for u, h in enumerate(ref[stage]["seen"]):
        S[u, h] = -float("inf")
    S[torch.arange(len(tgt)), tgt] = keep
    st = S.gather(1, tgt[:, None])
    ids = torch.arange(S.shape[1])[None]
    r = ((S > st) | ((S == st) & (ids < tgt[:, None]))).sum(1).double()
    out = {}
    for k in (10, 20):
        hit = r < k
        out[f"recall@{k}"] = float(hit.double().mean())
        out[f"ndcg@{k}"] = float((hit / torch.log2(r + 2)).mean())
    return out


curve, best = [], {}


class Anchor(get_trainer(config["MODEL_TYPE"], config["model"])):
    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        c0, w0 = time.process_time(), time.perf_counter()
        loss = super()._train_epoch(train_data, epoch_idx, loss_func, show_progress)
        curve.append({"epoch": epoch_idx + 1, "loss": float(loss), "steps": len(train_data),
                      "train_cpu_s": time.process_time() - c0, "train_wall_s": time.perf_counter() - w0})
        return loss

    def _valid_epoch(self, valid_data, show_progress=False):
        c0 = time.process_time()
        _, native = super()._valid_epoch(valid_data, show_progress)
        masked = masked_metrics(score_matrix(valid_data)[0], "valid")
        curve[-1].update(valid_native={k: float(v) for k, v in native.items()}, valid=masked,
                         eval_cpu_s=time.process_time() - c0)
        print("EPOCH " + json.dumps(curve[-1]), file=sys.stderr, flush=True)
        if best:
            write(finished=False)  # this epoch's curve point, even when it is no new best
        return masked[cfg["valid_metric"].lower()], native

    def _save_checkpoint(self, epoch, verbose=True, **kwargs):
        # a new best epoch: no checkpoint file (nothing is pickled); its scores and metrics are written
        # at once, so a run stopped early still leaves its best epoch behind
        best["epoch"] = epoch + 1
        best["native"] = {k: float(v) for k, v in self.evaluate(test_data, load_best_model=False).items()}
        best["split"] = {}
        for stage, loader in STAGES.items():
            S, best["split"][stage] = score_matrix(loader)
            np.save(out / f"scores_{stage}.npy", S.numpy())
        best["masked"] = masked_metrics(S, "test")
        write(finished=False)


def write(finished):
    result = {
        "finished": finished, "curve": curve, "best_epoch": best["epoch"], "epochs_run": len(curve),
        "unknown_items": unknown, "train_samples": len(train_data.dataset), "items": int(dataset.item_num),
        "users": int(dataset.user_num) - 1, "test_native": best["native"],
        "test_masked_in_runner": best["masked"], "split": best["split"],
    }
    (out / "result.json.tmp").write_text(json.dumps(result))
    (out / "result.json.tmp").replace(out / "result.json")


trainer = Anchor(config, model)
trainer.fit(train_data, valid_data, saved=True, show_progress=False)
write(finished=True)
print("RECBOLE_ANCHOR done")
"""


def ensure_venv(log=print) -> Path:
    py = VENV / "bin" / "python"
    ok = (
        py.is_file()
        and subprocess.run([str(py), "-c", "import recbole"], capture_output=True).returncode == 0
    )
    if not ok:
        log(f"creating {VENV} for RecBole 1.2.1 (own environment, system torch)")
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PIP], check=True)
    return py


def presort_inter(text: str, item_order: list[str]) -> str:
    """The rows of a RecBole ``.inter`` atomic file (header kept) reordered by (timestamp, item's index in
    ``item_order``). RecBole orders each user's history with a *stable* sort by timestamp, so events with
    equal timestamps keep their file order; seqlab breaks those ties by item index. Pre-sorting the rows
    this way makes both produce the same sequences (the rows themselves are unchanged)."""
    lines = text.splitlines()
    if not lines or "timestamp" not in lines[0] or "item_id" not in lines[0]:
        raise ValueError("expected a RecBole .inter file whose header names item_id and timestamp")
    head = lines[0].split("\t")
    it = next(k for k, h in enumerate(head) if h.startswith("item_id"))
    ts = next(k for k, h in enumerate(head) if h.startswith("timestamp"))
    index = {tok: k for k, tok in enumerate(item_order)}
    rows = [line.split("\t") for line in lines[1:] if line.strip()]
    missing = sorted({r[it] for r in rows} - index.keys())
    if missing:
        raise ValueError(f"items {missing[:5]} of the .inter file are not in the item order")
    rows.sort(key=lambda r: (float(r[ts]), index[r[it]]))
    return "\n".join([lines[0]] + ["\t".join(r) for r in rows]) + "\n"


def extract_atomic(dest: Path, presort: bool = False, name: str = "ml-100k") -> Path:
    """The ml-100k atomic files from the recbole wheel into ``dest/<name>/<name>.{inter,item}``; with
    ``presort`` the interactions are reordered by :func:`presort_inter` (seqlab's tie order).

    RecBole 1.2.1 ignores ``data_path`` for a dataset *named* ``ml-100k`` (its config points that name
    at the copy inside the package, in the file's original row order); under any other ``name`` it
    reads these files."""
    from seqlab.recsys.data import MEMBER, find_wheel

    d = dest / name
    d.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(find_wheel()) as z:
        item = z.read(MEMBER.format("item"))
        inter = z.read(MEMBER.format("inter"))
    if presort:
        order = [line.split("\t")[0] for line in item.decode("latin-1").splitlines()[1:] if line.strip()]
        inter = presort_inter(inter.decode("latin-1"), order).encode("latin-1")
    (d / f"{name}.item").write_bytes(item)
    (d / f"{name}.inter").write_bytes(inter)
    return dest


def recbole_config(data_path: Path, ckpt: Path, epochs: int, seed: int, stopping_step: int = 100) -> dict:
    return {
        "data_path": str(data_path),
        "checkpoint_dir": str(ckpt),
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
        "train_neg_sample_args": None,
        "loss_type": "CE",
        "epochs": epochs,
        "train_batch_size": 256,
        "eval_batch_size": 256,
        "learning_rate": 5e-3,
        "MAX_ITEM_LIST_LENGTH": 50,
        "hidden_size": 64,
        "inner_size": 64,
        "embedding_size": 64,
        "n_layers": 2,
        "n_heads": 1,
        "hidden_dropout_prob": 0.2,
        "attn_dropout_prob": 0.2,
        "dropout_prob": 0.2,
        "num_layers": 1,
        "metrics": ["Recall", "NDCG"],
        "topk": [10, 20],
        "valid_metric": "NDCG@10",
        "eval_step": 1,
        "stopping_step": stopping_step,
        "seed": seed,
        "reproducibility": True,
        "use_gpu": False,
        "device": "cpu",
        "show_progress": False,
        "worker": 0,
        "state": "WARNING",
    }


def _in_venv(runner: str, marker: str, model: str, epochs: int, seed: int, extra=(), log=print) -> dict:
    """Run ``runner`` for RecBole's ``model`` in its venv on the extracted atomic files; the JSON after
    ``marker`` on its output, or ``{"error": why}``."""
    try:
        py = ensure_venv(log)
    except (subprocess.CalledProcessError, OSError) as err:
        return {"error": f"could not set up RecBole's environment: {err}"}
    with tempfile.TemporaryDirectory() as tmp:
        data = extract_atomic(Path(tmp) / "data")
        cfg = recbole_config(data, Path(tmp) / "ckpt", epochs, seed)
        env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1", OMP_NUM_THREADS="1")
        argv = [str(py), "-c", runner, model, json.dumps(cfg), *map(str, extra)]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp)
    for line in proc.stdout.splitlines():
        if line.startswith(marker + " "):
            return json.loads(line[len(marker) + 1 :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"RecBole {model} exited {proc.returncode}: " + " | ".join(tail)}


def run_recbole(model: str, epochs: int, seed: int, log=print) -> dict:
    """RecBole's ``model`` in its venv; ``{"test": {...}, "wall_seconds": s}`` or ``{"error": why}``."""
    return _in_venv(RUNNER, "RECBOLE_RESULT", model, epochs, seed, log=log)


def recbole_throughput(model: str, seed: int, batches: int, users: int, log=print) -> dict:
    """RecBole ``model`` in its venv: ``batches`` training steps (batch 256) and full-ranking top-20 of
    ``users`` test users; targets/s and users/s by process CPU time and by wall time."""
    r = _in_venv(THROUGHPUT_RUNNER, "RECBOLE_SPEED", model, 1, seed, (batches, users), log=log)
    return r if "error" in r else {**r, **_rates(r)}


def _rates(r: dict) -> dict:
    return {
        "train_targets_per_cpu_s": r["train_targets"] / r["train_cpu_s"],
        "train_targets_per_wall_s": r["train_targets"] / r["train_wall_s"],
        "rank_users_per_cpu_s": r["rank_users"] / r["rank_cpu_s"],
        "rank_users_per_wall_s": r["rank_users"] / r["rank_wall_s"],
    }


def throughput(split, seed: int, epochs: int, name: str = "sasrec") -> dict:
    """seqlab ``name``: training targets (non-padding next-item targets) per second over ``epochs``
    epochs and full-ranking users per second over every test user, by CPU and by wall time."""
    from seqlab.recsys.base import user_ranks
    from seqlab.recsys.experiments import build

    m = build(name, seed, epochs=epochs)
    c0 = time.process_time()
    m.fit(split)
    train_cpu = time.process_time() - c0
    targets = sum(max(int(t.numel()) - 1, 0) for t in split.train) * epochs
    c0, w0 = time.process_time(), time.perf_counter()
    user_ranks(m, split)
    r = {
        "train_targets": targets,
        "train_cpu_s": train_cpu,
        "train_wall_s": m.train_seconds,
        "rank_users": split.num_users,
        "rank_cpu_s": time.process_time() - c0,
        "rank_wall_s": time.perf_counter() - w0,
    }
    return {**r, **_rates(r)}


# ---------------------------------------------------------------- the anchor at a converged budget


class EarlyStop:
    """RecBole's validation early stopping (``recbole.utils.early_stopping``), bigger is better: a score
    ``>=`` the best so far is the new best (its weights are kept); otherwise a miss is counted, and
    training stops at the ``patience + 1``-th miss in a row."""

    def __init__(self, patience: int):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        self.patience, self.best, self.best_epoch, self.misses = patience, float("-inf"), 0, 0

    def update(self, epoch: int, score: float) -> tuple[bool, bool]:
        """``(improved, stop)`` after ``epoch``'s validation ``score``."""
        if score != score:
            raise ValueError(f"validation score of epoch {epoch} is NaN")
        if score >= self.best:
            self.best, self.best_epoch, self.misses = score, epoch, 0
            return True, False
        self.misses += 1
        return False, self.misses > self.patience


class _Stop(Exception):
    pass


def seqlab_anchor(name: str, split, seed: int, max_epochs: int, patience: int, log=print) -> dict:
    """seqlab's ``name`` (``sasrec``/``gru4rec``, its defaults from ``seqlab.recsys.experiments``)
    trained up to ``max_epochs`` window epochs with the validation NDCG@10 (seen items excluded) after
    every epoch and :class:`EarlyStop`; the best epoch's weights are evaluated on the test targets.

    Training is ``NextItemRecommender._fit`` itself (same windows, init, shuffling and optimizer): the
    per-epoch hook rides on ``train_next_token``'s ``log`` callback, which evaluates in eval mode (no
    randomness consumed) and puts the model back in train mode."""
    import copy

    from seqlab.recsys.base import evaluate
    from seqlab.recsys.experiments import build
    from seqlab.recsys.train import item_windows, train_next_token

    rec = build(name, seed, epochs=max_epochs)
    rec.num_items = split.num_items
    stop, curve, best = EarlyStop(patience), [], {}
    clock = {"cpu": 0.0, "wall": 0.0}

    def on_epoch(_msg):
        cpu, wall = time.process_time(), time.perf_counter()
        clock["cpu"] += cpu - clock["c0"]
        clock["wall"] += wall - clock["w0"]
        rec.model = model
        v = evaluate(rec, split, "valid")
        model.train()
        improved, halt = stop.update(len(curve) + 1, v["ndcg@10"])
        curve.append(
            {
                "epoch": len(curve) + 1,
                "valid": {k: v[k] for k in ("recall@10", "ndcg@10", "recall@20", "ndcg@20")},
                "train_cpu_s": clock["cpu"],
                "train_wall_s": clock["wall"],
            }
        )
        if improved:
            best["state"] = copy.deepcopy(model.state_dict())
            best["cpu"], best["wall"] = clock["cpu"], clock["wall"]
        log(f"seqlab {name} epoch {len(curve)}: valid NDCG@10 {v['ndcg@10']:.4f}")
        if halt:
            raise _Stop
        clock["c0"], clock["w0"] = time.process_time(), time.perf_counter()

    with torch.random.fork_rng():
        torch.manual_seed(rec.seed)
        model = rec.build(split.num_items + 1)
        windows = [w for seq in split.train if seq.numel() >= 2 for w in item_windows(seq, rec.max_len)]
        x = torch.stack([w[0] for w in windows])
        y = torch.stack([w[1] for w in windows])
        clock["c0"], clock["w0"] = time.process_time(), time.perf_counter()
        try:
            train_next_token(
                model,
                x,
                y,
                epochs=max_epochs,
                batch_size=rec.batch_size,
                lr=rec.lr,
                seed=rec.seed,
                weight_decay=rec.weight_decay,
                log=on_epoch,
            )
        except _Stop:
            pass
    model.load_state_dict(best["state"])
    model.eval()
    rec.model = model
    test = evaluate(rec, split, "test")
    kept = metrics_from_scores(rec.scores(split.history("test")), split, "test", exclude_seen=False)
    steps_per_epoch = -(-len(windows) // rec.batch_size)
    return {
        "test": {k: test[k] for k in ("recall@10", "ndcg@10", "recall@20", "ndcg@20")},
        "test_no_exclusion": kept,
        "best_epoch": stop.best_epoch,
        "epochs_run": len(curve),
        "steps_per_epoch": steps_per_epoch,
        "train_samples": len(windows),
        "targets_per_epoch": int(sum(max(int(t.numel()) - 1, 0) for t in split.train)),
        "train_cpu_s_to_best": best["cpu"],
        "train_wall_s_to_best": best["wall"],
        "train_cpu_s": curve[-1]["train_cpu_s"],
        "train_wall_s": curve[-1]["train_wall_s"],
        "curve": curve,
    }


def anchor_histories(data, split) -> dict:
    """What RecBole's runner needs to score in seqlab's order and exclude seen items as seqlab does:
    raw user and item tokens (row ``u`` = ``users[u]``, column ``i`` = ``items[i - 1]``) and, per stage,
    each user's full history (seqlab item indices) and target."""
    if len(data.user_ids) != split.num_users or len(data.item_ids) != split.num_items:
        raise ValueError(
            f"data ({len(data.user_ids)} users, {len(data.item_ids)} items) is not the data of this split "
            f"({split.num_users} users, {split.num_items} items)"
        )
    out = {"users": list(data.user_ids), "items": list(data.item_ids)}
    for stage in ("valid", "test"):
        out[stage] = {
            "seen": [h.tolist() for h in split.history(stage)],
            "target": split.targets(stage).tolist(),
        }
    return out


def check_split(export: dict, data, split, max_len: int = 50) -> dict:
    """Compare RecBole's evaluation samples with seqlab's split. ``export[stage][user token]`` is
    ``{"history": [item tokens fed to the model], "target": item token}``. Counts, per stage, users
    missing on either side, different targets, and model inputs that differ from the last ``max_len``
    items of seqlab's history for that stage."""
    out = {}
    for stage in ("valid", "test"):
        got = export.get(stage, {})
        hist, tgt = split.history(stage), split.targets(stage)
        row = {"users": split.num_users, "missing": 0, "target_differs": 0, "history_differs": 0}
        row["extra"] = len(set(got) - set(data.user_ids))
        for u, uid in enumerate(data.user_ids):
            if uid not in got:
                row["missing"] += 1
                continue
            mine = [data.item_ids[i - 1] for i in hist[u][-max_len:].tolist()]
            row["target_differs"] += got[uid]["target"] != data.item_ids[int(tgt[u]) - 1]
            row["history_differs"] += list(got[uid]["history"]) != mine
        out[stage] = row
    return out


def metrics_from_scores(scores: torch.Tensor, split, stage: str, exclude_seen: bool = True) -> dict:
    """seqlab's metrics (``seqlab.recsys.metrics``) on a ``(users, num_items + 1)`` score matrix in
    seqlab's order: the padding column always excluded, the user's ``stage`` history too when
    ``exclude_seen`` (as :func:`seqlab.recsys.evaluate` does), never the target."""
    from seqlab.recsys.metrics import mask_seen, ranks_from_scores, summarize

    want = (split.num_users, split.num_items + 1)
    if tuple(scores.shape) != want:
        raise ValueError(f"scores must be (users, num_items + 1) = {want}, got {tuple(scores.shape)}")
    hist = split.history(stage) if exclude_seen else [[] for _ in range(split.num_users)]
    tgt = split.targets(stage)
    return summarize(ranks_from_scores(mask_seen(scores, hist, tgt), tgt))


def run_recbole_anchor(
    model: str,
    data,
    split,
    seed: int,
    max_epochs: int,
    patience: int,
    log=print,
    extra_cfg=None,
    workdir=None,
) -> dict:
    """RecBole's ``model`` in its venv on the pre-sorted atomic files: RecBole's data pipeline, model and
    trainer (``Trainer.fit`` with its early stopping, ``stopping_step = patience``), the validation
    score each epoch being NDCG@10 with seen items excluded. At each new best epoch the runner writes
    that epoch's validation and test score matrices (``.npy``, no pickle; no checkpoint is written) and
    its metrics to ``workdir`` (a temporary folder when None), so a run stopped early can still be read
    with :func:`collect_recbole_anchor`, which evaluates them with seqlab's own metric code."""
    try:
        py = ensure_venv(log)
    except (subprocess.CalledProcessError, OSError) as err:
        return {"error": f"could not set up RecBole's environment: {err}"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(workdir) if workdir is not None else Path(tmp)
        atomic = extract_atomic(work / "data", presort=True, name=ANCHOR_DATASET)
        out = work / "out"
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").unlink(missing_ok=True)
        (out / "histories.json").write_text(json.dumps(anchor_histories(data, split)))
        cfg = recbole_config(atomic, work / "ckpt", max_epochs, seed, stopping_step=patience)
        cfg.update(extra_cfg or {})
        (out / "config.json").write_text(json.dumps(cfg))
        env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1", OMP_NUM_THREADS="1")
        argv = [str(py), "-c", ANCHOR_RUNNER, model, json.dumps(cfg), str(out), ANCHOR_DATASET]
        c0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=work
        )
        tail = []
        for line in proc.stderr:
            if line.startswith("EPOCH "):
                e = json.loads(line[6:])
                log(
                    f"RecBole {model} epoch {e['epoch']}: train {e['train_cpu_s']:.0f} cpu-s, "
                    f"valid NDCG@10 {e['valid']['ndcg@10']:.4f} (native {e['valid_native']['ndcg@10']:.4f})"
                )
            else:
                tail = (tail + [line.rstrip()])[-5:]
        proc.wait()
        if proc.returncode != 0 or not (out / "result.json").is_file():
            return {"error": f"RecBole {model} exited {proc.returncode}: " + " | ".join(tail)}
        r = collect_recbole_anchor(model, work, data, split)
    r["process_wall_s"] = time.perf_counter() - c0
    return r


def collect_recbole_anchor(model: str, workdir, data, split) -> dict:
    """The result a RecBole anchor run left in ``workdir`` (finished or not): its curve, the split check,
    and its best epoch's validation and test metrics computed here by seqlab's code, with and without
    seen-item exclusion."""
    import numpy as np

    out = Path(workdir) / "out"
    if not (out / "result.json").is_file():
        return {"error": f"RecBole {model}: no best epoch recorded in {out} yet"}
    r = json.loads((out / "result.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    scores = {
        st: torch.from_numpy(np.load(out / f"scores_{st}.npy", allow_pickle=False))
        for st in ("valid", "test")
    }
    r["split_check"] = check_split(r.pop("split"), data, split, max_len=cfg["MAX_ITEM_LIST_LENGTH"])
    if r["unknown_items"]:
        return {
            **r,
            "error": f"RecBole {model} has no id for items {r['unknown_items'][:5]} of the catalogue",
        }
    for st, S in scores.items():
        if torch.isnan(S).any():
            missing = int(torch.isnan(S).any(1).sum())
            return {**r, "error": f"RecBole {model} left {missing} {st} users unscored"}
        r[st] = metrics_from_scores(S, split, st)
        r[f"{st}_no_exclusion"] = metrics_from_scores(S, split, st, exclude_seen=False)
    r["stopped_by"] = (
        "interrupted"
        if not r["finished"]
        else ("early stopping" if len(r["curve"]) < cfg["epochs"] else "max epochs")
    )
    r["train_cpu_s"] = sum(e["train_cpu_s"] for e in r["curve"])
    r["train_wall_s"] = sum(e["train_wall_s"] for e in r["curve"])
    r["train_cpu_s_to_best"] = sum(e["train_cpu_s"] for e in r["curve"][: r["best_epoch"]])
    r["train_wall_s_to_best"] = sum(e["train_wall_s"] for e in r["curve"][: r["best_epoch"]])
    r["eval_cpu_s"] = sum(e.get("eval_cpu_s", 0.0) for e in r["curve"])
    r["steps_per_epoch"] = r["curve"][0]["steps"]
    r["config"] = {k: v for k, v in cfg.items() if k not in ("data_path", "checkpoint_dir")}
    return r


ANCHOR_RUNS = ("seqlab:sasrec", "seqlab:gru4rec", "recbole:SASRec", "recbole:GRU4Rec")
ANCHOR_OUT = Path(__file__).parent / "results" / "cpu-2core" / "recsys_anchor.json"


def anchor(args, log=print) -> dict:
    """Each of ``args.anchor_runs`` trained to its validation early stop (seed ``args.seed``); every
    finished run is written to ``args.anchor_out`` at once and reused by a later call (resumable)."""
    from seqlab.recsys.data import leave_one_out, load_ml100k

    data = load_ml100k()
    split = leave_one_out(data)
    path = Path(args.anchor_out)
    store = json.loads(path.read_text()) if path.is_file() else {}
    runs = store.setdefault("runs", {})
    for run in args.anchor_runs.split(","):
        side, _, model = run.partition(":")
        key = f"{run}@seed{args.seed}"
        if key in runs and "error" not in runs[key] and not args.rerun:
            log(f"{key}: reusing the stored result")
            continue
        if side == "seqlab":
            r = seqlab_anchor(model, split, args.seed, args.seqlab_max_epochs, args.seqlab_patience, log=log)
        elif side == "recbole" and args.recbole_collect:
            r = collect_recbole_anchor(
                model, Path(args.recbole_workdir) / f"{model}-seed{args.seed}", data, split
            )
        elif side == "recbole":
            work = Path(args.recbole_workdir) / f"{model}-seed{args.seed}" if args.recbole_workdir else None
            r = run_recbole_anchor(
                model,
                data,
                split,
                args.seed,
                args.recbole_max_epochs,
                args.recbole_patience,
                log,
                workdir=work,
            )
        else:
            raise ValueError(f"an anchor run is seqlab:<name> or recbole:<Model>, got {run!r}")
        r["load"] = os.getloadavg()
        fresh = json.loads(path.read_text()) if path.is_file() else {}  # a parallel run may have added cells
        fresh.setdefault("runs", {})[key] = r
        fresh["ties"] = tie_order_differences(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(fresh, indent=1))
        store = fresh
        log(f"{key}: " + (r["error"] if "error" in r else json.dumps(r["test"])))
    path.with_suffix(".md").write_text(anchor_report(store) + "\n")
    return store


def tie_differences(rows, item_order) -> dict:
    """``rows``: (user, item, timestamp) in file order. Each user's history ordered RecBole's way (a
    stable sort by timestamp: equal timestamps keep file order) vs seqlab's ((timestamp, item index)):
    how many users get a different test target, a different validation target, or a different order
    anywhere."""
    index = {tok: k for k, tok in enumerate(item_order)}
    per_user: dict = {}
    for u, i, t in rows:
        per_user.setdefault(u, []).append((float(t), i))
    out = {"users": len(per_user), "test_target": 0, "valid_target": 0, "any_order": 0}
    for events in per_user.values():
        stable = [i for _, i in sorted(events, key=lambda e: e[0])]
        mine = [i for _, i in sorted(events, key=lambda e: (e[0], index[e[1]]))]
        out["test_target"] += stable[-1] != mine[-1]
        out["valid_target"] += len(mine) > 1 and stable[-2] != mine[-2]
        out["any_order"] += stable != mine
    return out


def tie_order_differences(data) -> dict:
    """:func:`tie_differences` for ml-100k in the wheel's file order (RecBole's bundled copy)."""
    from seqlab.recsys.data import MEMBER, find_wheel

    with zipfile.ZipFile(find_wheel()) as z:
        lines = z.read(MEMBER.format("inter")).decode("latin-1").splitlines()[1:]
    rows = [(r[0], r[1], r[3]) for r in (line.split("\t") for line in lines if line.strip())]
    return tie_differences(rows, data.item_ids)


def anchor_table(store: dict) -> str:
    """The side-by-side markdown table of :func:`anchor`'s runs."""
    from seqlab.experiments.report import md_table

    head = ["run", "best / run epochs", "steps/epoch", "Recall@10", "NDCG@10", "Recall@20", "NDCG@20"]
    head += ["NDCG@10 seen kept", "train cpu-s to best (all)", "train wall-s (all)"]
    rows = []
    for key, r in store.get("runs", {}).items():
        if "error" in r:
            rows.append([key, r["error"][:80]] + ["-"] * (len(head) - 2))
            continue
        t = r["test"]
        kept = r.get("test_no_exclusion", {}).get("ndcg@10")
        rows.append(
            [
                key,
                f"{r['best_epoch']} / {r['epochs_run']}",
                str(r["steps_per_epoch"]),
                *(f"{t[k]:.4f}" for k in ("recall@10", "ndcg@10", "recall@20", "ndcg@20")),
                "-" if kept is None else f"{kept:.4f}",
                f"{r['train_cpu_s_to_best']:.0f} ({r['train_cpu_s']:.0f})",
                f"{r['train_wall_s']:.0f}",
            ]
        )
    return md_table(head, rows)


def anchor_curves(store: dict) -> str:
    """Validation NDCG@10 (seen items excluded) after each epoch of every run, one column per run; a
    run's best epoch is starred."""
    from seqlab.experiments.report import md_table

    runs = {k: r for k, r in store.get("runs", {}).items() if "curve" in r}
    if not runs:
        return ""
    depth = max(len(r["curve"]) for r in runs.values())
    rows = []
    for e in range(depth):
        row = [str(e + 1)]
        for r in runs.values():
            if e < len(r["curve"]):
                v = r["curve"][e]["valid"]["ndcg@10"]
                row.append(f"{v:.4f}" + ("*" if e + 1 == r["best_epoch"] else ""))
            else:
                row.append("")
        rows.append(row)
    return md_table(["epoch"] + list(runs), rows)


def anchor_report(store: dict) -> str:
    """The markdown written beside the anchor JSON: the side-by-side table, the validation curves, the
    split check and how RecBole's own evaluation differs."""
    parts = [
        "ml-100k, leave-one-out, full ranking over all 1,682 items, seen items excluded (seqlab's "
        "metric code for every row); each run trained to its validation early stop on NDCG@10 (seen "
        "items excluded) and evaluated at its best epoch. `NDCG@10 seen kept`: the same scores ranked "
        "without excluding the "
        "user's history (RecBole's own full-sort evaluation of sequential models).",
        "",
        anchor_table(store),
        "",
        "Validation NDCG@10 by epoch (one epoch = every training target once; * = best):",
        "",
        anchor_curves(store),
    ]
    checks = {k: r["split_check"] for k, r in store.get("runs", {}).items() if "split_check" in r}
    for key, c in checks.items():
        parts += ["", f"{key} split check vs seqlab: " + json.dumps(c)]
    if "ties" in store:
        parts += ["", "RecBole's bundled file order vs seqlab's tie order: " + json.dumps(store["ties"])]
    return "\n".join(parts)


def merge_anchor(paths, out: Path) -> dict:
    """The union of the ``runs`` of several anchor JSON files (later files win on a repeated key)."""
    store: dict = {"runs": {}}
    for path in paths:
        other = json.loads(Path(path).read_text())
        store["runs"].update(other.get("runs", {}))
        store.update({k: v for k, v in other.items() if k != "runs"})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(store, indent=1))
    out.with_suffix(".md").write_text(anchor_report(store) + "\n")
    return store


def speed_table(speed: dict) -> str:
    from seqlab.experiments.report import md_table

    head = ["implementation", "train targets/cpu-s", "train targets/wall-s"]
    head += ["rank users/cpu-s", "rank users/wall-s"]
    rows = []
    for name, r in speed.items():
        if "error" in r:
            rows.append([name, r["error"][:80], "-", "-", "-"])
            continue
        rows.append(
            [name]
            + [
                f"{r[k]:.0f}"
                for k in (
                    "train_targets_per_cpu_s",
                    "train_targets_per_wall_s",
                    "rank_users_per_cpu_s",
                    "rank_users_per_wall_s",
                )
            ]
        )
    return md_table(head, rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=None, help="seqlab epochs (default: each model's own)")
    p.add_argument("--recbole-epochs", type=int, default=1, help="RecBole epochs (each ~30x a window epoch)")
    p.add_argument("--no-recbole", action="store_true", help="skip RecBole")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", default="popularity,sasrec,gru4rec,grid,unirec,recformer,timesync,playlist")
    p.add_argument("--speed-only", action="store_true", help="only the throughput comparison")
    p.add_argument("--recbole-batches", type=int, default=40, help="RecBole training steps timed")
    a = p.add_argument_group(
        "anchor: SASRec and GRU4Rec, seqlab's and RecBole's, each to its validation stop"
    )
    a.add_argument("--anchor", action="store_true", help="run the anchor comparison (nothing else)")
    a.add_argument("--anchor-runs", default=",".join(ANCHOR_RUNS), help="comma-separated side:model")
    a.add_argument(
        "--anchor-out", default=str(ANCHOR_OUT), help="JSON of the runs (resumable); .md beside it"
    )
    a.add_argument("--rerun", action="store_true", help="retrain runs already in --anchor-out")
    a.add_argument("--recbole-max-epochs", type=int, default=30)
    a.add_argument("--recbole-patience", type=int, default=2, help="RecBole's stopping_step")
    a.add_argument("--recbole-workdir", default=None, help="keep RecBole's data, scores and metrics here")
    a.add_argument(
        "--recbole-collect", action="store_true", help="read the RecBole runs left in --recbole-workdir"
    )
    a.add_argument(
        "--anchor-merge", default=None, help="comma-separated anchor JSONs to merge into --anchor-out"
    )
    a.add_argument("--seqlab-max-epochs", type=int, default=150)
    a.add_argument("--seqlab-patience", type=int, default=10)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.recbole_collect and not args.recbole_workdir:
        p.error("--recbole-collect needs --recbole-workdir")
    if args.anchor_merge:
        print(anchor_report(merge_anchor(args.anchor_merge.split(","), Path(args.anchor_out))))
        return 0
    if args.anchor:
        print(anchor_report(anchor(args)))
        return 0
    from seqlab.experiments.report import md_table
    from seqlab.recsys.experiments import compare, load_split

    models = [] if args.speed_only else args.models.split(",")
    over = {m: {"epochs": args.epochs} for m in models if m != "popularity"} if args.epochs else {}
    results = {
        name: dict(row) for name, row in compare(models, seed=args.seed, overrides=over, log=print).items()
    }
    rows = [
        [
            f"seqlab {n}",
            *(f"{r[k]:.4f}" for k in ("recall@10", "ndcg@10", "recall@20", "ndcg@20")),
            f"{r['train_seconds']:.1f}",
        ]
        for n, r in results.items()
    ]
    recbole = {}
    if not args.no_recbole and not args.speed_only:
        for model in ("SASRec", "GRU4Rec"):
            r = run_recbole(model, args.recbole_epochs, args.seed)
            recbole[model] = r
            if "error" in r:
                rows.append([f"RecBole {model}", "-", "-", "-", "-", r["error"][:60]])
            else:
                t = r["test"]
                rows.append(
                    [
                        f"RecBole {model} ({args.recbole_epochs} ep)",
                        *(f"{t[k]:.4f}" for k in ("recall@10", "ndcg@10", "recall@20", "ndcg@20")),
                        f"{r['wall_seconds']:.1f} (incl. data + eval)",
                    ]
                )
    split = load_split()
    speed = {"seqlab SASRec": throughput(split, args.seed, 1)}
    if not args.no_recbole:
        speed["RecBole SASRec"] = recbole_throughput(
            "SASRec", args.seed, args.recbole_batches, split.num_users
        )
    head = ["model", "Recall@10", "NDCG@10", "Recall@20", "NDCG@20", "train s"]
    text = (md_table(head, rows) + "\n\n" if rows else "") + speed_table(speed)
    print(text)
    out = OUT.with_name("recsys_speed.json") if args.speed_only else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text + "\n")
    out.write_text(
        json.dumps(
            {
                "seqlab": results,
                "recbole": recbole,
                "throughput": speed,
                "args": vars(args),
                "load": os.getloadavg(),
            },
            indent=1,
        )
    )
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
