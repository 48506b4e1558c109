"""The one results store: a SQLite file whose rows remember what produced them.

A row is ``(kind, key, config, result, name, provenance, code_version, finished)``:

- ``kind``: what made it -- ``"bench"``, ``"continual"``, ``"speed"``, or a new module's name;
- ``key``: :func:`~seqlab.experiments.config.config_key` of the config, a hash of the fields that
  were SET, so a field added later with a default never orphans a stored row;
- ``config`` and ``result``: JSON (the config with every field, for reading);
- ``name``: the grid, claim or protocol the row was made for;
- ``provenance``: seqlab's version, the git commit of the seqlab checkout (None outside one),
  torch's version and the device; ``code_version`` is the commit, or ``"seqlab <version>"`` when
  there is none. A row whose code version differs from the running code's is *stale*.

Safety: each row goes in with one transaction in WAL mode, so ``kill -9`` at any moment leaves
every finished row and no partial one. Before every write the store checks that its file is still
there and is the same file (device, inode): a store deleted or replaced during a sweep raises
:class:`StoreError` instead of writing into a vanished file. A 0-byte or damaged file raises
``ValueError`` naming it; a missing path creates a new store (built aside, then linked into place,
so no other process ever sees a half-made store). Concurrent sweeps on one store split the work
by *claiming* cells (:meth:`ResultStore.claim`): a claim names its owner (host, pid, process start
time) and carries a heartbeat; a claim whose owner is dead is taken over.

Stores of the first schema (one table ``runs(key, config, result, grid, finished)``) are migrated in
place when opened: keys are recomputed from the stored configs, provenance is unknown (so those rows
are stale).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from seqlab.experiments.config import config_key

SCHEMA_VERSION = 2
CLAIM_TIMEOUT = 600.0  # s without a heartbeat after which another host's claim is taken over

TABLES = """
CREATE TABLE IF NOT EXISTS results (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    config TEXT NOT NULL,
    result TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    provenance TEXT NOT NULL DEFAULT '{}',
    code_version TEXT,
    finished REAL NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS claims (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TEXT NOT NULL,
    heartbeat REAL NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
RESULT_COLUMNS = ["kind", "key", "config", "result", "name", "provenance", "code_version", "finished"]
OLD_COLUMNS = ["key", "config", "result", "grid", "finished"]


class StoreError(ValueError):
    """The store's file vanished or was replaced while in use: nothing more can be written to it."""


# -- provenance -------------------------------------------------------------------------------


@functools.cache
def git_commit(package_dir: str | None = None) -> str | None:
    """HEAD of the git checkout that holds seqlab's source (None when it is not tracked in one).

    Two cheap ``git`` calls, once per process (cached): the package's ``__init__.py`` must be a
    tracked file, so an installed copy inside some unrelated repository reports None.
    """
    pkg = Path(package_dir) if package_dir else Path(__file__).resolve().parents[1]
    try:
        tracked = subprocess.run(
            ["git", "-C", str(pkg), "ls-files", "--error-unmatch", "__init__.py"],
            capture_output=True,
            timeout=10,
        )
        if tracked.returncode != 0:
            return None
        head = subprocess.run(
            ["git", "-C", str(pkg), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = head.stdout.strip()
    return sha if head.returncode == 0 and sha else None


def _torch_version() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None


def provenance(device: str | None = None) -> dict[str, Any]:
    """What produces a row now: seqlab version, git commit (or None), torch version, device."""
    from seqlab import __version__

    return {
        "seqlab": __version__,
        "commit": git_commit(),
        "torch": _torch_version(),
        "device": str(device or "cpu"),
    }


def code_version(prov: dict[str, Any] | None = None) -> str:
    """The commit of ``prov`` (default: the running code), or ``"seqlab <version>"`` without one."""
    prov = provenance() if prov is None else prov
    return prov.get("commit") or f"seqlab {prov.get('seqlab')}"


# -- owners of claims -------------------------------------------------------------------------


def _process_start(pid: int) -> str:
    """The start time of process ``pid`` (Linux: clock ticks since boot), "" when unknown.

    Together with the pid it names one process: a reused pid has another start time.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _pid_alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if started:
        now = _process_start(pid)
        if now and now != started:
            return False  # the pid was reused by another process
    return True


def _row_dict(r) -> dict[str, Any]:
    kind, key, config, result, name, prov, version, finished = r
    return {
        "kind": kind,
        "key": key,
        "config": json.loads(config),
        "result": json.loads(result),
        "name": name,
        "grid": name,
        "provenance": json.loads(prov),
        "code_version": version,
        "finished": finished,
    }


class ResultStore:
    """The SQLite results store at ``path`` (created when missing unless ``create=False``)."""

    def __init__(self, path, *, create: bool = True):
        self.path = Path(path)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started = _process_start(self.pid)
        self.owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self._beat: threading.Thread | None = None
        self._beat_stop = threading.Event()
        if self.path.is_dir():
            raise ValueError(f"results store {self.path} is a directory; expected a SQLite file")
        if not self.path.exists():
            if not create:
                raise FileNotFoundError(f"results store {self.path} does not exist")
            self._create()
        elif self.path.stat().st_size == 0:
            raise ValueError(
                f"results store {self.path} is an empty (0-byte) file, not a seqlab store; its rows are "
                f"gone -- restore it from a backup, or delete it to start a new store"
            )
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            ok = self.conn.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise sqlite3.DatabaseError(ok)
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as err:
            raise ValueError(
                f"results store {self.path} is corrupted or not a seqlab SQLite store ({err}); "
                f"move it away to start a new store"
            ) from err
        st = os.stat(self.path)
        self._ident = (st.st_dev, st.st_ino)
        if "results" not in tables and "runs" in tables:
            self._migrate_v1()
        elif "results" not in tables and tables - {"claims", "meta"}:
            raise ValueError(
                f"results store {self.path} is a SQLite file without seqlab's tables (has {sorted(tables)}); "
                f"give another --store path"
            )
        elif not {"results", "claims", "meta"} <= tables:  # an empty SQLite file: make the tables
            with self._tx():
                self._create_tables(self.conn)
        cols = [r[1] for r in self.conn.execute("PRAGMA table_info(results)")]
        if cols != RESULT_COLUMNS:
            raise ValueError(
                f"results store {self.path} has an unexpected 'results' table (columns {cols}; "
                f"expected {RESULT_COLUMNS})"
            )
        self._version = code_version()

    # -- creation, migration ----------------------------------------------------------------------

    def _create(self) -> None:
        """Build an empty store aside, then link it into place (never a half-made file at ``path``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{self.pid}.{uuid.uuid4().hex[:8]}.new")
        try:
            conn = sqlite3.connect(str(tmp), isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            self._create_tables(conn)
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            conn.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass  # another process created it first: use theirs
            except OSError:  # no hard links here
                if not self.path.exists():
                    os.replace(tmp, self.path)
        finally:
            for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()

    def _migrate_v1(self) -> None:
        from seqlab.experiments.config import RunConfig

        cols = [r[1] for r in self.conn.execute("PRAGMA table_info(runs)")]
        if cols != OLD_COLUMNS:
            raise ValueError(
                f"results store {self.path} has an unexpected 'runs' table (columns {cols}); "
                f"move it away to start a new store"
            )
        try:
            with self._tx():
                self._create_tables(self.conn)
                for key, config, result, grid, finished in self.conn.execute("SELECT * FROM runs").fetchall():
                    try:
                        new_key = RunConfig.from_dict(json.loads(config)).key()
                    except (ValueError, TypeError) as err:
                        raise ValueError(
                            f"results store {self.path}: cannot migrate row {key} of the old schema ({err}); "
                            f"move the store away to start a new one"
                        ) from err
                    self.conn.execute(
                        "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, '{}', NULL, ?)",
                        ("bench", new_key, config, result, grid, finished),
                    )
                self.conn.execute("DROP TABLE runs")
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
        except sqlite3.OperationalError as err:
            raise ValueError(
                f"results store {self.path} has the old schema and must be migrated in place, which failed "
                f"({err}); make the file and its folder writable and open it again (or copy it somewhere "
                f"writable and pass --store COPY)"
            ) from err

    @staticmethod
    def _create_tables(conn) -> None:
        for statement in TABLES.split(";"):
            if statement.strip():
                conn.execute(statement)

    @contextlib.contextmanager
    def _tx(self):
        """One write transaction (``BEGIN IMMEDIATE``: concurrent writers wait for each other)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _check_file(self) -> None:
        """Raise :class:`StoreError` when the store's file was deleted or replaced since it was opened."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise StoreError(
                f"results store {self.path} was deleted while in use; the rows it held are lost -- "
                f"stopping instead of writing into a deleted file (restore it, or start again)"
            ) from None
        if (st.st_dev, st.st_ino) != self._ident:
            raise StoreError(
                f"results store {self.path} was replaced by another file while in use -- stopping "
                f"instead of writing into the old, unlinked file"
            )

    # -- life cycle --------------------------------------------------------------------------------

    def close(self) -> None:
        self.stop_heartbeat()
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading -----------------------------------------------------------------------------------

    @property
    def code_version(self) -> str:
        """The running code's version (see :func:`code_version`); rows with another one are stale."""
        return self._version

    def _where(self, kind):
        return ("", ()) if kind is None else (" WHERE kind=?", (kind,))

    def keys(self, kind: str | None = None) -> set[str]:
        where, args = self._where(kind)
        return {r[0] for r in self.conn.execute(f"SELECT key FROM results{where}", args)}

    def __contains__(self, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM results WHERE key=?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def _decode(self, r) -> dict[str, Any]:
        try:
            row = _row_dict(r)
        except ValueError as err:
            raise ValueError(f"results store {self.path}: row {r[1]} is not valid JSON ({err})") from err
        row["stale"] = row["code_version"] != self._version
        return row

    def get(self, key: str, kind: str | None = None) -> dict[str, Any] | None:
        """The row of ``key`` (of ``kind``, when given) as a dict, or None.

        Keys: kind, key, config, result, name (``grid``: the same), provenance, code_version,
        finished, stale.
        """
        where, args = ("WHERE key=?", (key,)) if kind is None else ("WHERE key=? AND kind=?", (key, kind))
        r = self.conn.execute(f"SELECT {', '.join(RESULT_COLUMNS)} FROM results {where}", args).fetchone()
        return None if r is None else self._decode(r)

    def rows(self, keys=None, kind: str | None = None) -> list[dict[str, Any]]:
        """All rows (of ``kind``; those whose key is in ``keys``), oldest first."""
        where, args = self._where(kind)
        rs = self.conn.execute(
            f"SELECT {', '.join(RESULT_COLUMNS)} FROM results{where} ORDER BY finished, key", args
        ).fetchall()
        wanted = None if keys is None else set(keys)
        return [self._decode(r) for r in rs if wanted is None or r[1] in wanted]

    def stale_keys(self, kind: str | None = None) -> set[str]:
        """Keys of the rows made by another code version than the running one."""
        where, args = self._where(kind)
        cond = "(code_version IS NULL OR code_version != ?)"
        sql = f"SELECT key FROM results{where}{' AND ' if where else ' WHERE '}{cond}"
        return {r[0] for r in self.conn.execute(sql, (*args, self._version))}

    # -- writing -----------------------------------------------------------------------------------

    def put(
        self,
        config,
        result: dict[str, Any],
        name: str = "",
        *,
        kind: str = "bench",
        key: str | None = None,
        device: str | None = None,
        replace: bool = False,
    ) -> bool:
        """Store one row in one transaction and drop this store's claim on it.

        ``config``: a config object (``.key()``/``.to_dict()``, e.g. a RunConfig) or a dict (its key
        is :func:`config_key` of the dict unless ``key`` is given). Returns False (and changes
        nothing) when the row exists, unless ``replace`` (then the row is overwritten).
        """
        if isinstance(config, dict):
            cfg = dict(config)
            key = key or config_key(cfg)
        elif hasattr(config, "to_dict") and hasattr(config, "key"):
            cfg = config.to_dict()
            key = key or config.key()
        else:
            raise TypeError(
                f"config must be a dict or a config with key()/to_dict(), got {type(config).__name__}"
            )
        if device is None and isinstance(result, dict):
            device = result.get("device")
        prov = provenance(device)
        values = (
            kind,
            key,
            json.dumps(cfg, sort_keys=True),
            json.dumps(result),
            name,
            json.dumps(prov, sort_keys=True),
            code_version(prov),
            time.time(),
        )
        self._check_file()
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self._tx():
            cur = self.conn.execute(f"{verb} INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
            self.conn.execute(
                "DELETE FROM claims WHERE kind=? AND key=? AND owner=?", (kind, key, self.owner)
            )
        return cur.rowcount == 1

    def delete(self, key: str, kind: str = "bench") -> bool:
        self._check_file()
        with self._tx():
            cur = self.conn.execute("DELETE FROM results WHERE kind=? AND key=?", (kind, key))
        return cur.rowcount == 1

    # -- claims: concurrent sweeps split the work ------------------------------------------------

    def _claim_live(self, owner: str, host: str, pid: int, started: str, heartbeat: float) -> bool:
        if owner == self.owner:
            return True
        if host == self.host:
            return _pid_alive(pid, started)
        return time.time() - heartbeat < CLAIM_TIMEOUT

    def claim(self, key: str, kind: str = "bench", *, rerun_stale: bool = False) -> str:
        """Try to take cell ``key`` for this store's owner.

        Returns ``"claimed"`` (train it), ``"done"`` (a row exists, and is current or
        ``rerun_stale`` is off) or ``"busy"`` (a live owner holds it: wait, then ask again).
        """
        self._check_file()
        with self._tx():
            row = self.conn.execute(
                "SELECT code_version FROM results WHERE kind=? AND key=?", (kind, key)
            ).fetchone()
            if row is not None and not (rerun_stale and row[0] != self._version):
                return "done"
            c = self.conn.execute(
                "SELECT owner, host, pid, started, heartbeat FROM claims WHERE kind=? AND key=?", (kind, key)
            ).fetchone()
            if c is not None and c[0] != self.owner and self._claim_live(*c):
                return "busy"
            self.conn.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, key, self.owner, self.host, self.pid, self.started, time.time()),
            )
        return "claimed"

    def release(self, key: str, kind: str = "bench") -> None:
        """Drop this owner's claim on ``key`` (a run that failed: another sweep may retry it)."""
        self._check_file()
        with self._tx():
            self.conn.execute(
                "DELETE FROM claims WHERE kind=? AND key=? AND owner=?", (kind, key, self.owner)
            )

    def release_all(self) -> None:
        with contextlib.suppress(StoreError, sqlite3.Error):
            self._check_file()
            with self._tx():
                self.conn.execute("DELETE FROM claims WHERE owner=?", (self.owner,))

    def claims(self, kind: str | None = None) -> list[dict[str, Any]]:
        where, args = self._where(kind)
        cols = ["kind", "key", "owner", "host", "pid", "started", "heartbeat"]
        return [
            dict(zip(cols, r))
            for r in self.conn.execute(f"SELECT {', '.join(cols)} FROM claims{where}", args)
        ]

    def heartbeat(self) -> None:
        """Refresh the heartbeat of every claim this owner holds."""
        self._check_file()
        with self._tx():
            self.conn.execute("UPDATE claims SET heartbeat=? WHERE owner=?", (time.time(), self.owner))

    def start_heartbeat(self, interval: float = 30.0) -> None:
        """Refresh this owner's claims every ``interval`` s from a thread (its own connection)."""
        if self._beat is not None:
            return
        self._beat_stop.clear()

        def beat():
            # mode=rw: never create a file at a path whose store was deleted meanwhile
            uri = f"{self.path.absolute().as_uri()}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
            try:
                while not self._beat_stop.wait(interval):
                    with contextlib.suppress(sqlite3.Error, StoreError):
                        self._check_file()
                        conn.execute("UPDATE claims SET heartbeat=? WHERE owner=?", (time.time(), self.owner))
            finally:
                conn.close()

        self._beat = threading.Thread(target=beat, name="seqlab-store-heartbeat", daemon=True)
        self._beat.start()

    def stop_heartbeat(self) -> None:
        if self._beat is not None:
            self._beat_stop.set()
            self._beat.join(timeout=5)
            self._beat = None


Store = ResultStore
