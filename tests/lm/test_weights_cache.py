"""The converted-weights cache: built once, verified, rebuilt with a warning when corrupt."""

import json
import warnings

import pytest

from seqlab.lm.weights_cache import MANIFEST, cache_root, cached_dir, verify


class Builder:
    def __init__(self, fail=False):
        self.calls, self.fail = 0, fail

    def __call__(self, d):
        self.calls += 1
        (d / "weights.bin").write_bytes(bytes(range(256)) * 64)
        (d / "sub").mkdir()
        (d / "sub" / "config.json").write_text('{"a": 1}')
        if self.fail:
            raise RuntimeError("killed mid-build")


def test_built_once_then_reused(tmp_path):
    b = Builder()
    d1 = cached_dir("m", b, root=tmp_path)
    d2 = cached_dir("m", b, root=tmp_path)
    assert d1 == d2 == tmp_path / "m" and b.calls == 1
    assert verify(d1) is None
    assert set(json.loads((d1 / MANIFEST).read_text())["files"]) == {"weights.bin", "sub/config.json"}


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "manifest"])
def test_corrupt_cache_is_rebuilt_with_a_warning(tmp_path, damage):
    b = Builder()
    d = cached_dir("m", b, root=tmp_path)
    w = d / "weights.bin"
    if damage == "flip":
        data = bytearray(w.read_bytes())
        data[100] ^= 0xFF
        w.write_bytes(bytes(data))
    elif damage == "truncate":
        w.write_bytes(w.read_bytes()[:10])
    elif damage == "delete":
        w.unlink()
    else:
        (d / MANIFEST).write_text("{not json")
    assert verify(d) is not None
    with pytest.warns(UserWarning, match="corrupt"):
        d2 = cached_dir("m", b, root=tmp_path)
    assert b.calls == 2 and verify(d2) is None


def test_failed_build_leaves_no_cache(tmp_path):
    with pytest.raises(RuntimeError, match="killed"):
        cached_dir("m", Builder(fail=True), root=tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither the entry nor its temporary directory
    b = Builder()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached_dir("m", b, root=tmp_path)
    assert b.calls == 1


def test_empty_build_and_bad_keys_are_errors(tmp_path):
    with pytest.raises(RuntimeError, match="no files"):
        cached_dir("m", lambda d: None, root=tmp_path)
    for key in ["", "a/b", ".hidden"]:
        with pytest.raises(ValueError, match="plain directory name"):
            cached_dir(key, Builder(), root=tmp_path)


def test_cache_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SEQLAB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "seqlab"
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "own"))
    assert cache_root() == tmp_path / "own" and (tmp_path / "own").is_dir()
