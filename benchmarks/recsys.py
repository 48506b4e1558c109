"""seqlab's recommenders vs RecBole's SASRec and GRU4Rec on MovieLens-100K, in the same run.

    python benchmarks/recsys.py [--epochs 8] [--recbole-epochs 1] [--no-recbole] [--seed 0]

seqlab side (this process, one thread): popularity, SASRec, GRU4Rec, GRID through
``seqlab.recsys.experiments.compare`` -- leave-one-out, full ranking, seen items excluded, trained for
a fixed number of epochs, evaluated once on the test items.

RecBole side: RecBole 1.2.1 cannot live in seqlab's environment (``np.float`` needs numpy < 1.24,
``ray<=2.6.3``, and its trainer reloads its checkpoint with a bare ``torch.load``). This script runs
it in its own virtual environment (created on first use)::

    python3 -m venv --system-site-packages /tmp/rbenv
    /tmp/rbenv/bin/pip install recbole==1.2.1 'numpy<1.24' 'pandas<2.1' 'scipy<1.12' 'setuptools<70'

(the venv reuses the system torch; ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` lets RecBole's bare
``torch.load`` read back its own checkpoint in that subprocess -- seqlab never loads RecBole's
pickles). The data are the same atomic files, extracted from the same wheel; RecBole's config:
``LS`` (leave-one-out) split by time, full ranking, CE loss, 2 blocks / d 64 / 1 head for SASRec,
d 64 for GRU4Rec, max length 50, batch 256, lr 5e-3. RecBole trains on every prefix of every
sequence (one target per sample), so one of its epochs costs about as many optimizer steps as
~30 of seqlab's window epochs; it validates each epoch and tests its best checkpoint.

Also measured: training throughput (target items per second) and full-ranking inference (users
per second). Writes ``benchmarks/results/cpu-2core/recsys.json`` and prints a markdown table.
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


def extract_atomic(dest: Path) -> Path:
    from seqlab.recsys.data import MEMBER, find_wheel

    d = dest / "ml-100k"
    d.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(find_wheel()) as z:
        for ext in ("inter", "item"):
            (d / f"ml-100k.{ext}").write_bytes(z.read(MEMBER.format(ext)))
    return dest


def recbole_config(data_path: Path, ckpt: Path, epochs: int, seed: int) -> dict:
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
        "stopping_step": 100,
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
    args = p.parse_args(argv)
    torch.set_num_threads(1)
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
