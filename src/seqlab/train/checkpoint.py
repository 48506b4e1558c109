"""Atomic, self-checking training checkpoints: safetensors (tensors) + JSON (everything else).

A checkpoint for step ``s`` in a folder is two files:

* ``step-0000000s.safetensors``: model parameters, optimizer state tensors, RNG states and any
  ``extra_tensors`` (its safetensors metadata records the format and the step);
* ``step-0000000s.json``: step, ``stopped_early``, history, optimizer scalars and parameter groups,
  ``extra`` (JSON values), the tensor file's name and SHA-256 (``sha256``), and ``json_sha256``: the
  SHA-256 of this JSON's own payload (every other key, serialised with sorted keys), so an edited
  or damaged JSON is caught as surely as a damaged tensor file.

Writing is crash-safe. A marker ``.step-0000000s.saving<pid>`` is written first, then each file
through a temporary name (``.NAME.tmp<pid>``) and ``os.replace``, the JSON last, then older
checkpoints are deleted and the marker removed. A checkpoint exists once its JSON exists. After a
kill the next save or load removes what a dead writer left behind (temporary files, and the tensor
file of a save whose marker is still there), so a killed save costs at most the steps since the
previous checkpoint. Everything else that does not add up -- a tensor file without its JSON and no
marker, a JSON without its tensor file, a checksum mismatch, missing keys, a bad ``step``, a
truncated file -- is a :class:`CheckpointError` naming the file, what is wrong, and how to recover
(delete the folder, or run without resuming); a partial checkpoint never silently restarts a run
from step 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

FORMAT = "seqlab-checkpoint"
VERSION = 2
_JSON = re.compile(r"^step-(\d+)\.json$")
_TENSORS = re.compile(r"^step-(\d+)\.safetensors$")
_TMP = re.compile(r"^\..+\.tmp(\d+)$")
_MARKER = re.compile(r"^\.step-(\d+)\.saving(\d+)$")
_REQUIRED = {
    "format": str,
    "version": int,
    "step": int,
    "stopped_early": bool,
    "history": list,
    "optimizer": dict,
    "extra": dict,
    "tensors": str,
    "sha256": str,
    "json_sha256": str,
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: names the file, what is wrong, and how to recover."""


def _recover_hint(directory: Path) -> str:
    return (
        f"To recover, delete the folder {directory} to restart this run from step 0, "
        f"or run without --resume (resume=False)"
    )


def _fail(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"corrupted checkpoint {path}: {what}. {_recover_hint(path.parent)}")


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    tmp = _tmp_name(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    """Whether another live process has this pid (our own pid counts as dead: we are not mid-save)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_files(directory) -> list[Path]:
    """Delete what a killed writer left in ``directory``; returns the removed paths.

    Removed: temporary files ``.NAME.tmp<pid>`` of dead processes, and for each ``.saving`` marker of
    a dead process the marker plus -- when that step's JSON was never written -- its tensor file.
    Files of a live process (another writer still saving) are left alone.
    """
    d = Path(directory)
    removed: list[Path] = []
    if not d.is_dir():
        return removed
    for p in list(d.iterdir()):
        if (m := _TMP.match(p.name)) and not _alive(int(m.group(1))):
            p.unlink(missing_ok=True)
            removed.append(p)
    for p in list(d.iterdir()):
        if (m := _MARKER.match(p.name)) and not _alive(int(m.group(2))):
            stem = f"step-{int(m.group(1)):08d}"
            if not (d / f"{stem}.json").exists():
                tensors = d / f"{stem}.safetensors"
                if tensors.exists():
                    tensors.unlink()
                    removed.append(tensors)
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _payload_digest(meta: dict[str, Any]) -> str:
    """SHA-256 of the JSON payload: every key but ``json_sha256``, sorted keys, compact separators."""
    body = {k: v for k, v in meta.items() if k != "json_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _optimizer_split(opt: torch.optim.Optimizer | None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if opt is None:
        return {}, {"scalars": {}, "param_groups": []}
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


def save_checkpoint(
    directory,
    step: int,
    model,
    opt,
    history: list,
    stopped_early: bool = False,
    *,
    extra: dict[str, Any] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write the checkpoint of ``step`` into ``directory`` and delete older ones; returns the JSON path.

    ``extra`` (JSON-serialisable) and ``extra_tensors`` carry a caller's own state (e.g. a continual
    strategy's); :func:`load_checkpoint` returns them as ``meta["extra"]`` / ``meta["extra_tensors"]``.
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"checkpoint step must be an int >= 0, got {step!r}")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    remove_stale_files(d)
    stem = f"step-{step:08d}"
    marker = d / f".{stem}.saving{os.getpid()}"
    marker.touch()
    tensors = {f"model/{k}": v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    opt_tensors, opt_meta = _optimizer_split(opt)
    tensors.update(opt_tensors)
    for name, val in (extra_tensors or {}).items():
        tensors[f"extra/{name}"] = val.detach().cpu().contiguous().clone()
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    st_path = d / f"{stem}.safetensors"
    # serialised here and written through our own pid-named temporary file: safetensors' save_file
    # writes through a temporary file of its own (".tmpXXXXXX") that a killed process would leave behind
    atomic_write_bytes(st_path, save(tensors, metadata={"format": FORMAT, "step": str(step)}))
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "step": step,
        "stopped_early": bool(stopped_early),
        "history": history,
        "optimizer": opt_meta,
        "extra": extra or {},
        "tensors": st_path.name,
        "sha256": _sha256(st_path),
    }
    meta = json.loads(json.dumps(meta))  # what a reader will see (tuples -> lists), hashed as such
    meta["json_sha256"] = _payload_digest(meta)
    js = d / f"{stem}.json"
    atomic_write_bytes(js, json.dumps(meta).encode())
    for suffix in (".json", ".safetensors"):  # JSON first: a checkpoint never lingers without tensors
        for old in d.glob(f"step-*{suffix}"):
            if old.stem != stem:
                old.unlink(missing_ok=True)
    marker.unlink(missing_ok=True)
    return js


def latest_checkpoint(directory) -> Path | None:
    """The newest complete checkpoint's JSON path in ``directory``; None when there is none.

    First removes what a killed writer left (:func:`remove_stale_files`). A tensor file newer than
    every JSON that no save in progress accounts for means a checkpoint lost its JSON: that is a
    :class:`CheckpointError` rather than a silent restart from step 0.
    """
    d = Path(directory)
    if not d.is_dir():
        return None
    remove_stale_files(d)
    names = [p.name for p in d.iterdir()]
    jsons = sorted((int(m.group(1)), d / n) for n in names if (m := _JSON.match(n)))
    saving = {int(m.group(1)) for n in names if (m := _MARKER.match(n))}  # live writers only, now
    newest = jsons[-1][0] if jsons else -1
    orphans = sorted(
        int(m.group(1))
        for n in names
        if (m := _TENSORS.match(n)) and int(m.group(1)) > newest and int(m.group(1)) not in saving
    )
    if orphans:
        raise _fail(
            d / f"step-{orphans[-1]:08d}.safetensors",
            f"tensor file without its JSON step-{orphans[-1]:08d}.json"
            + (f" (newest complete checkpoint: step {newest})" if jsons else " (no complete checkpoint)"),
        )
    return jsons[-1][1] if jsons else None


def read_checkpoint_meta(path) -> dict[str, Any]:
    """Read and verify a checkpoint's JSON at ``path`` (keys, types, step, checksum, tensor file)."""
    path = Path(path)
    m = _JSON.match(path.name)
    if m is None:
        raise ValueError(f"{path} is not a checkpoint JSON (expected a name like step-00000010.json)")
    if not path.is_file():
        raise _fail(path, "the JSON file does not exist")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise _fail(path, f"cannot read its JSON ({err}); the file is truncated or not JSON") from err
    if not isinstance(meta, dict):
        raise _fail(path, f"expected a JSON object, got {type(meta).__name__}")
    missing = sorted(set(_REQUIRED) - set(meta))
    if missing:
        raise _fail(path, f"missing key(s) {missing} (expected {sorted(_REQUIRED)})")
    if meta["json_sha256"] != _payload_digest(meta):
        raise _fail(path, "the JSON does not match its json_sha256 checksum (edited or damaged)")
    for key, typ in _REQUIRED.items():
        val = meta[key]
        if not isinstance(val, typ) or (typ is int and isinstance(val, bool)):
            raise _fail(path, f"key {key!r} must be of type {typ.__name__}, got {val!r}")
    if meta["format"] != FORMAT or meta["version"] != VERSION:
        raise _fail(
            path,
            f"format {meta['format']!r} version {meta['version']} (expected {FORMAT!r} version {VERSION})",
        )
    if meta["step"] != int(m.group(1)) or meta["step"] < 0:
        raise _fail(path, f"'step' is {meta['step']!r} but the file name says step {int(m.group(1))}")
    expected = f"step-{int(m.group(1)):08d}.safetensors"
    if meta["tensors"] != expected:
        raise _fail(path, f"'tensors' names {meta['tensors']!r}, expected {expected!r}")
    opt = meta["optimizer"]
    if not isinstance(opt.get("scalars"), dict) or not isinstance(opt.get("param_groups"), list):
        raise _fail(path, "'optimizer' must hold a 'scalars' mapping and a 'param_groups' list")
    st_path = path.with_name(expected)
    if not st_path.is_file():
        raise _fail(path, f"its tensor file {st_path.name} is missing")
    if _sha256(st_path) != meta["sha256"]:
        raise _fail(st_path, f"SHA-256 does not match the one recorded in {path.name} (truncated or damaged)")
    return meta


def load_checkpoint(path, model, opt=None, device="cpu") -> dict[str, Any]:
    """Restore model, optimizer and RNG state from the checkpoint at ``path`` (its JSON file).

    Returns the verified JSON metadata, with ``meta["extra_tensors"]`` added (the ``extra_tensors``
    given to :func:`save_checkpoint`). Any inconsistency is a :class:`CheckpointError`.
    """
    path = Path(path)
    remove_stale_files(path.parent)
    meta = read_checkpoint_meta(path)
    st_path = path.with_name(meta["tensors"])
    try:
        tensors = load_file(str(st_path))
    except (SafetensorError, OSError, ValueError) as err:
        raise _fail(st_path, f"cannot read the tensors ({err})") from err
    if "rng/torch" not in tensors:
        raise _fail(st_path, "tensor 'rng/torch' is missing")
    model_sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model/")}
    try:
        model.load_state_dict(model_sd, strict=True)
    except RuntimeError as err:
        raise _fail(st_path, f"its model tensors do not fit this model ({err})") from err
    if opt is not None:
        opt_t = {k: v for k, v in tensors.items() if k.startswith("optim/")}
        try:
            opt.load_state_dict(_optimizer_join(opt_t, meta["optimizer"], device))
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            raise _fail(path, f"its optimizer state does not fit this optimizer ({err})") from err
    try:
        torch.set_rng_state(tensors["rng/torch"])
    except (RuntimeError, TypeError) as err:
        raise _fail(st_path, f"bad RNG state ({err})") from err
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng/cuda/")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    meta["extra_tensors"] = {k[6:]: v for k, v in tensors.items() if k.startswith("extra/")}
    return meta
