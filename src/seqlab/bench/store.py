"""The results store: one SQLite row per finished run, keyed by the hash of its canonical config.

Each row is written in one transaction (``INSERT OR IGNORE``) in WAL journal mode, so a process
killed at any moment (even ``kill -9``) leaves every finished row intact and no partial row; a
restart skips the keys already present and never duplicates one. A file that is not a readable
store raises ``ValueError`` naming it -- never a silent restart from an empty store.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from seqlab.experiments.config import RunConfig

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    result TEXT NOT NULL,
    grid TEXT NOT NULL DEFAULT '',
    finished REAL NOT NULL
)
"""


class ResultStore:
    """SQLite results store at ``path`` (created when missing)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            ok = self.conn.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise sqlite3.DatabaseError(ok)
            self.conn.execute(SCHEMA)
            cols = [r[1] for r in self.conn.execute("PRAGMA table_info(runs)")]
        except sqlite3.DatabaseError as err:
            raise ValueError(
                f"results store {self.path} is corrupted or not a seqlab SQLite store ({err}); "
                f"move it away to start a new store"
            ) from err
        if cols[:3] != ["key", "config", "result"]:
            raise ValueError(f"results store {self.path} has an unexpected 'runs' table (columns {cols})")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def keys(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT key FROM runs")}

    def __contains__(self, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM runs WHERE key=?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def put(self, config: RunConfig, result: dict[str, Any], grid: str = "") -> bool:
        """Insert the row of ``config`` in one transaction; False when the key was already there."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO runs (key, config, result, grid, finished) VALUES (?, ?, ?, ?, ?)",
            (config.key(), config.canonical(), json.dumps(result), grid, time.time()),
        )
        return cur.rowcount == 1

    def _decode(self, key: str, config: str, result: str) -> dict[str, Any]:
        try:
            return {"key": key, "config": json.loads(config), "result": json.loads(result)}
        except ValueError as err:
            raise ValueError(f"results store {self.path}: row {key} is not valid JSON ({err})") from err

    def get(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT key, config, result FROM runs WHERE key=?", (key,)).fetchone()
        return None if row is None else self._decode(*row)

    def rows(self, keys=None) -> list[dict[str, Any]]:
        """All rows (or those whose key is in ``keys``), oldest first."""
        rows = self.conn.execute("SELECT key, config, result FROM runs ORDER BY finished, key").fetchall()
        wanted = None if keys is None else set(keys)
        return [self._decode(*r) for r in rows if wanted is None or r[0] in wanted]
