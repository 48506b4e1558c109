"""A directory cache for converted model weights under the user cache dir.

``cached_dir(key, build)`` returns ``<root>/<key>``; the first call runs ``build(tmp_dir)`` into a
fresh temporary directory next to it, writes ``manifest.json`` (the SHA-256 of every file) and
renames the directory into place, so a killed build never leaves a half-written cache. A later call
verifies the manifest; a cache whose files are missing or whose hashes differ is removed, rebuilt and
reported with a :class:`UserWarning`.

Root: ``$SEQLAB_CACHE`` if set, else ``$XDG_CACHE_HOME/seqlab``, else ``~/.cache/seqlab``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

MANIFEST = "manifest.json"


def cache_root() -> Path:
    """The seqlab cache directory (created on first use)."""
    if os.environ.get("SEQLAB_CACHE"):
        root = Path(os.environ["SEQLAB_CACHE"])
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(base) / "seqlab"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def verify(d: Path) -> str | None:
    """None when ``d`` holds exactly the files its manifest lists with their hashes, else the problem."""
    try:
        manifest = json.loads((d / MANIFEST).read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"unreadable {MANIFEST} ({err})"
    if not isinstance(files, dict) or not files:
        return f"{MANIFEST} lists no files"
    for name, digest in files.items():
        p = d / name
        if not p.is_file():
            return f"missing file {name}"
        if _sha256(p) != digest:
            return f"checksum mismatch in {name}"
    return None


def cached_dir(key: str, build: Callable[[Path], None], root: Path | None = None) -> Path:
    """The verified cache directory for ``key``, built by ``build(dir)`` when absent or corrupt."""
    if not key or "/" in key or key.startswith("."):
        raise ValueError(f"cache key must be a plain directory name, got {key!r}")
    root = cache_root() if root is None else Path(root)
    root.mkdir(parents=True, exist_ok=True)
    d = root / key
    if d.exists():
        problem = verify(d)
        if problem is None:
            return d
        warnings.warn(f"seqlab cache {d} is corrupt ({problem}); rebuilding it", UserWarning, stacklevel=2)
        shutil.rmtree(d, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    tmp.chmod(0o755)
    try:
        build(tmp)
        files = {
            str(p.relative_to(tmp)): _sha256(p)
            for p in sorted(tmp.rglob("*"))
            if p.is_file() and p.name != MANIFEST
        }
        if not files:
            raise RuntimeError(f"building cache {key!r} wrote no files")
        (tmp / MANIFEST).write_text(json.dumps({"key": key, "files": files}, indent=1))
        try:
            os.replace(tmp, d)
        except OSError:  # another process won the race: use its copy if it verifies
            if verify(d) is not None:
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return d
