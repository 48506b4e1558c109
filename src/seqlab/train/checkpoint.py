"""Atomic training checkpoints: safetensors (tensors) + JSON (everything else).

A checkpoint for step ``s`` is ``step-000000s.safetensors`` (model parameters, optimizer state
tensors, RNG states) plus ``step-000000s.json`` (step, optimizer scalars and param groups, history,
and the SHA-256 of the tensor file). Each file is written to a temporary name and moved into place
with ``os.replace``; the JSON is written last, so a checkpoint exists only once both are complete.
Loading verifies the hash: a damaged checkpoint raises ``ValueError`` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

_NAME = re.compile(r"^step-(\d+)\.json$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _optimizer_split(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for key, val in st.items():
            if isinstance(val, torch.Tensor):
                tensors[f"optim/{idx}/{key}"] = val.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(idx), {})[key] = val
    return tensors, {"scalars": scalars, "param_groups": sd["param_groups"]}


def _optimizer_join(tensors: dict[str, torch.Tensor], meta: dict[str, Any], device) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in meta["scalars"].items()}
    for name, val in tensors.items():
        _, idx, key = name.split("/", 2)
        state.setdefault(int(idx), {})[key] = val if key == "step" else val.to(device)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(directory, step: int, model, opt, history: list, stopped_early: bool = False) -> Path:
    """Write the checkpoint of ``step`` into ``directory`` and delete older ones; returns the JSON path."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {f"model/{k}": v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    opt_tensors, opt_meta = _optimizer_split(opt)
    tensors.update(opt_tensors)
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    st_path = d / f"step-{step:08d}.safetensors"
    tmp = st_path.with_name(f".{st_path.name}.tmp{os.getpid()}")
    save_file(tensors, str(tmp))
    os.replace(tmp, st_path)
    meta = {
        "step": step,
        "stopped_early": stopped_early,
        "history": history,
        "optimizer": opt_meta,
        "tensors": st_path.name,
        "sha256": _sha256(st_path),
    }
    js = d / f"step-{step:08d}.json"
    atomic_write_bytes(js, json.dumps(meta).encode())
    for old in d.glob("step-*"):
        if old.suffix in (".json", ".safetensors") and old.stem != js.stem:
            old.unlink(missing_ok=True)
    return js


def latest_checkpoint(directory) -> Path | None:
    """The newest complete checkpoint's JSON path in ``directory`` (None when there is none)."""
    d = Path(directory)
    if not d.is_dir():
        return None
    found = sorted((int(m.group(1)), p) for p in d.iterdir() if (m := _NAME.match(p.name)))
    return found[-1][1] if found else None


def load_checkpoint(path, model, opt=None, device="cpu") -> dict[str, Any]:
    """Restore model, optimizer and RNG state from the checkpoint at ``path`` (its JSON file)."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text())
        st_path = path.with_name(meta["tensors"])
        digest = meta["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"corrupted checkpoint {path}: cannot read its JSON ({err})") from err
    if not st_path.is_file():
        raise ValueError(f"corrupted checkpoint {path}: tensor file {st_path} is missing")
    if _sha256(st_path) != digest:
        raise ValueError(f"corrupted checkpoint {st_path}: SHA-256 does not match {path.name}")
    tensors = load_file(str(st_path))
    model_sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model/")}
    model.load_state_dict(model_sd, strict=True)
    if opt is not None:
        opt_t = {k: v for k, v in tensors.items() if k.startswith("optim/")}
        opt.load_state_dict(_optimizer_join(opt_t, meta["optimizer"], device))
    torch.set_rng_state(tensors["rng/torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng/cuda/")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    return meta
