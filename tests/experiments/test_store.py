import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass

import pytest

from seqlab.experiments import store as store_mod
from seqlab.experiments.config import RunConfig, config_key, set_fields
from seqlab.experiments.store import ResultStore, StoreError, git_commit


@dataclass(frozen=True)
class RunConfigWithNewField(RunConfig):
    """RunConfig as it would look after someone adds a field with a default."""

    dropout: float = 0.0


def test_key_hashes_only_set_fields():
    a = RunConfig(task="mqar", mixer="lstm", lr=1e-3)  # lr given but equal to the default
    assert set_fields(a) == {"task": "mqar", "mixer": "lstm"}
    assert a.key() == RunConfig(task="mqar", mixer="lstm").key()
    assert a.key() != a.replace(lr=2e-3).key()
    assert config_key({"b": 1, "a": (1, 2)}) == config_key({"a": [1, 2], "b": 1})


def test_adding_a_field_with_a_default_keeps_old_rows(tmp_path):
    old = RunConfig(task="mqar", mixer="lstm", d_model=32, seed=3)
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.put(old, {"score": 0.5})
        new = RunConfigWithNewField(task="mqar", mixer="lstm", d_model=32, seed=3)
        assert new.key() == old.key()
        assert store.get(new.key())["result"] == {"score": 0.5}
        changed = RunConfigWithNewField(task="mqar", mixer="lstm", d_model=32, seed=3, dropout=0.1)
        assert changed.key() != old.key() and store.get(changed.key()) is None


def test_row_records_its_provenance(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        cfg = RunConfig(task="t", mixer="m")
        store.put(cfg, {"score": 1.0}, "g", device="cuda:0")
        row = store.get(cfg.key())
    import torch

    import seqlab

    prov = row["provenance"]
    assert prov["seqlab"] == seqlab.__version__ and prov["torch"] == torch.__version__
    assert prov["device"] == "cuda:0" and "commit" in prov
    assert row["code_version"] == (prov["commit"] or f"seqlab {seqlab.__version__}")
    assert row["kind"] == "bench" and row["name"] == row["grid"] == "g" and row["stale"] is False


def test_git_commit_of_a_checkout_and_of_a_plain_folder(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "__init__.py").write_text("")
    assert git_commit(str(plain)) is None
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "__init__.py").write_text("")
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "__init__.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert git_commit(str(repo)) == head and len(head) == 40


def test_rows_of_another_code_version_are_stale(tmp_path, monkeypatch):
    db = tmp_path / "s.sqlite"
    monkeypatch.setattr(store_mod, "git_commit", lambda: "a" * 40)
    a, b = RunConfig(task="t", mixer="m"), RunConfig(task="t", mixer="m", seed=1)
    with ResultStore(db) as store:
        store.put(a, {"score": 1.0})
        assert store.stale_keys() == set()
    monkeypatch.setattr(store_mod, "git_commit", lambda: "b" * 40)
    with ResultStore(db) as store:
        store.put(b, {"score": 2.0})
        assert store.stale_keys() == {a.key()}
        assert store.get(a.key())["stale"] and not store.get(b.key())["stale"]
        assert store.claim(a.key()) == "done"  # a stale row is kept unless asked to rerun it
        assert store.claim(a.key(), rerun_stale=True) == "claimed"
        assert store.put(a, {"score": 3.0}, replace=True)
        assert store.stale_keys() == set() and store.get(a.key())["result"]["score"] == 3.0
    monkeypatch.setattr(store_mod, "git_commit", lambda: None)
    with ResultStore(db) as store:  # no checkout: the version string is the code version
        assert store.code_version.startswith("seqlab ") and store.stale_keys() == {a.key(), b.key()}


def test_missing_path_creates_but_empty_file_is_refused(tmp_path):
    with ResultStore(tmp_path / "sub" / "new.sqlite") as store:
        assert len(store) == 0
    assert (tmp_path / "sub" / "new.sqlite").stat().st_size > 0
    assert not [p for p in (tmp_path / "sub").iterdir() if p.name.endswith(".new")]
    empty = tmp_path / "bench.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"bench\.sqlite is an empty \(0-byte\) file"):
        ResultStore(empty)
    assert empty.stat().st_size == 0, "the empty file must be left as it was"
    with pytest.raises(FileNotFoundError, match="missing.sqlite"):
        ResultStore(tmp_path / "missing.sqlite", create=False)


def test_foreign_sqlite_file_is_refused(tmp_path):
    db = tmp_path / "other.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(ValueError, match=r"other\.sqlite is a SQLite file without seqlab's tables"):
        ResultStore(db)


def test_deleted_or_replaced_store_stops_writes(tmp_path):
    db = tmp_path / "s.sqlite"
    store = ResultStore(db)
    store.put(RunConfig(task="t", mixer="m"), {"score": 1.0})
    os.unlink(db)
    with pytest.raises(StoreError, match=r"s\.sqlite was deleted while in use"):
        store.put(RunConfig(task="t", mixer="m", seed=1), {"score": 1.0})
    with pytest.raises(StoreError, match="deleted"):
        store.claim("k")
    assert not db.exists(), "a write must not recreate the deleted file"
    store.close()
    store = ResultStore(db)
    other = ResultStore(tmp_path / "other.sqlite")
    other.close()
    os.replace(tmp_path / "other.sqlite", db)
    with pytest.raises(StoreError, match="was replaced by another file"):
        store.put(RunConfig(task="t", mixer="m"), {"score": 1.0})
    store.close()


def _old_store(path, rows):
    """A store of the first schema: runs(key, config, result, grid, finished), key = hash of every field."""
    import hashlib

    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE runs (key TEXT PRIMARY KEY, config TEXT NOT NULL, result TEXT NOT NULL, "
        "grid TEXT NOT NULL DEFAULT '', finished REAL NOT NULL)"
    )
    for config, result in rows:
        text = json.dumps(config, sort_keys=True, separators=(",", ":"))
        key = hashlib.sha256(text.encode()).hexdigest()[:20]
        conn.execute("INSERT INTO runs VALUES (?, ?, ?, 'default', 1.0)", (key, text, json.dumps(result)))
    conn.commit()
    conn.close()


def test_old_schema_is_migrated_in_place(tmp_path):
    db = tmp_path / "old.sqlite"
    cfgs = [RunConfig(task="mqar", mixer="lstm", seed=s) for s in range(3)]
    _old_store(db, [(c.to_dict(), {"score": s / 10}) for s, c in enumerate(cfgs)])
    with ResultStore(db) as store:
        assert len(store) == 3
        for s, c in enumerate(cfgs):
            row = store.get(c.key())
            assert row["result"]["score"] == s / 10 and row["name"] == "default"
            assert row["stale"], "rows of unknown provenance are stale"
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert "runs" not in tables and "results" in tables


def test_old_schema_with_an_unreadable_config_says_how_to_recover(tmp_path):
    db = tmp_path / "old.sqlite"
    _old_store(db, [({"task": "t", "mixer": "m", "no_such_field": 1}, {"score": 0})])
    with pytest.raises(ValueError, match=r"old\.sqlite: cannot migrate row .* move the store away"):
        ResultStore(db)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1, "a failed migration changes nothing"
    conn.close()


def test_generic_kinds_and_dict_configs(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert store.put({"mixer": "s4d", "length": 1024}, {"ms": 3.5}, "speed-run", kind="speed")
        k = config_key({"length": 1024, "mixer": "s4d"})
        assert store.get(k, kind="speed")["result"] == {"ms": 3.5} and store.get(k, kind="bench") is None
        assert store.keys("speed") == {k} and store.keys("bench") == set()
        assert not store.put({"mixer": "s4d", "length": 1024}, {"ms": 9.9}, kind="speed")
        assert [r["kind"] for r in store.rows(kind="speed")] == ["speed"]
        with pytest.raises(TypeError, match="config must be a dict"):
            store.put(42, {})


def test_claims_split_cells_and_dead_owners_are_taken_over(tmp_path):
    db = tmp_path / "s.sqlite"
    with ResultStore(db) as a, ResultStore(db) as b:
        assert a.claim("k1") == "claimed" and a.claim("k1") == "claimed"  # idempotent for its owner
        assert b.claim("k1") == "busy"
        a.put({"k": 1}, {"v": 1}, key="k1")
        assert b.claim("k1") == "done" and a.claims() == []
        assert a.claim("k2") == "claimed"
        a.release("k2")
        assert b.claim("k2") == "claimed"
    # a claim left by a process that died (kill -9 leaves it behind) is reclaimable
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    conn = sqlite3.connect(db)
    import socket

    conn.execute(
        "INSERT INTO claims VALUES ('bench', 'k3', 'x', ?, ?, '', ?)",
        (socket.gethostname(), dead.pid, 1e18),
    )
    conn.execute("INSERT INTO claims VALUES ('bench', 'k4', 'y', 'elsewhere', 1, '', 0.0)")
    conn.execute("INSERT INTO claims VALUES ('bench', 'k5', 'z', 'elsewhere', 1, '', 1e18)")
    conn.commit()
    conn.close()
    with ResultStore(db) as c:
        assert c.claim("k3") == "claimed"  # its pid is gone
        assert c.claim("k4") == "claimed"  # another host's claim without a heartbeat for ages
        assert c.claim("k5") == "busy"  # another host's claim with a fresh heartbeat
