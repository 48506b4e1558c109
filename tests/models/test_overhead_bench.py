"""The overhead benchmark runs end to end at a tiny size and the plain model it compares against is sound."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "overhead.py"


def _load():
    spec = importlib.util.spec_from_file_location("overhead_bench", PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tiny_run_writes_rows_for_each_head_count_and_config(tmp_path):
    bench = _load()
    out = tmp_path / "overhead.json"
    result = bench.main(["--batch", "2", "--length", "8", "--vocab", "11", "--d-model", "8", "--heads", "1,2",
                         "--runs", "2", "--steps", "1", "--warmup", "1", "--threads", "1", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["rows"] == result["rows"]
    assert [(r["heads"], r["config"]) for r in saved["rows"]] == [
        (1, "default"), (1, "matched"), (2, "default"), (2, "matched")
    ]
    for r in saved["rows"]:
        assert r["plain_ms"] > 0 and r["seqlab_ms"] > 0
        assert r["ratio"] == pytest.approx(r["seqlab_ms"] / r["plain_ms"], rel=1e-2)
        assert r["ratio_iqr"][0] <= r["paired_ratio"] <= r["ratio_iqr"][1]


def test_plain_and_matched_models_have_the_same_shape_and_are_causal():
    bench = _load()
    plain = bench.build("plain", 11, 8, 2, 2, 8)
    matched = bench.build("matched", 11, 8, 2, 2, 8)
    assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in matched.parameters())
    tokens = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(0))
    changed = tokens.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 11
    for model in (plain, matched):
        with torch.no_grad():
            a, b = model(tokens), model(changed)
        assert a.shape == (2, 8, 11)
        torch.testing.assert_close(a[:, :-1], b[:, :-1])  # the last token does not reach earlier outputs
        assert not torch.allclose(a[:, -1], b[:, -1])
    with pytest.raises(ValueError, match="plain, default or matched"):
        bench.build("other", 11, 8, 2, 2, 8)
