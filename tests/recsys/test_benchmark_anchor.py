"""benchmarks/recsys.py's anchor helpers: pure functions only (RecBole itself runs only in the benchmark,
in its own environment; nothing here needs it)."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from seqlab.recsys import Popularity, evaluate
from seqlab.recsys.data import Interactions, leave_one_out
from seqlab.recsys.experiments import build

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "recsys.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_recsys_anchor", PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def tied_data():
    """6 users over 9 items, many equal timestamps, items given in a shuffled file order."""
    g = torch.Generator().manual_seed(3)
    rows = []
    for u in range(6):
        for t in range(7):
            item = int(torch.randint(1, 10, (1,), generator=g))
            rows.append((f"u{u}", item, 100 + t // 3))  # three events share each timestamp
    perm = torch.randperm(len(rows), generator=g).tolist()
    return [rows[k] for k in perm]


def test_presort_makes_a_stable_time_sort_give_seqlabs_order(bench):
    rows = tied_data()
    order = [str(i) for i in range(1, 10)]
    text = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    text += "".join(f"{u}\t{i}\t3\t{t}\n" for u, i, t in rows)
    out = bench.presort_inter(text, order)
    lines = out.splitlines()
    assert lines[0] == text.splitlines()[0] and sorted(lines[1:]) == sorted(text.splitlines()[1:])
    # RecBole: per user, a stable sort by timestamp of the file rows
    recbole: dict = {}
    for line in sorted(lines[1:], key=lambda s: float(s.split("\t")[3])):
        u, i, _, _ = line.split("\t")
        recbole.setdefault(u, []).append(int(i))
    data = Interactions.from_triples([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], 9)
    for uid, seq in zip(data.user_ids, data.sequences, strict=True):
        assert recbole[uid] == seq.tolist()
    # without the presort the file order breaks some ties differently
    raw: dict = {}
    for u, i, _t in sorted(rows, key=lambda r: r[2]):
        raw.setdefault(u, []).append(i)
    assert any(raw[uid] != seq.tolist() for uid, seq in zip(data.user_ids, data.sequences, strict=True))
    with pytest.raises(ValueError, match="header names item_id and timestamp"):
        bench.presort_inter("user_id:token\tfoo\n1\t2\n", order)
    with pytest.raises(ValueError, match="not in the item order"):
        bench.presort_inter(text + "u9\t10\t3\t100\n", order)


def test_tie_differences_counts_users_whose_targets_move(bench):
    order = [str(i) for i in range(1, 10)]
    rows = [("a", "1", 1), ("a", "5", 10), ("a", "3", 10), ("b", "2", 1), ("b", "4", 2), ("b", "6", 3)]
    rows += [("c", "7", 1), ("c", "2", 1), ("c", "8", 2), ("c", "9", 3)]
    got = bench.tie_differences(rows, order)
    # a: stable [1, 5, 3], seqlab [1, 3, 5]: both targets move; b: no ties; c: tie only early
    assert got == {"users": 3, "test_target": 1, "valid_target": 1, "any_order": 2}


def test_early_stop_follows_recboles_rule(bench):
    stop = bench.EarlyStop(patience=1)
    seen = [stop.update(e, s) for e, s in enumerate([0.1, 0.2, 0.2, 0.15, 0.1], start=1)]
    # a tie counts as an improvement (>=); the second miss in a row exceeds patience 1
    assert seen == [(True, False), (True, False), (True, False), (False, False), (False, True)]
    assert stop.best_epoch == 3 and stop.best == 0.2
    zero = bench.EarlyStop(patience=0)
    assert zero.update(1, 0.5) == (True, False) and zero.update(2, 0.4) == (False, True)
    with pytest.raises(ValueError, match="patience must be an int >= 0"):
        bench.EarlyStop(-1)
    with pytest.raises(ValueError, match="NaN"):
        bench.EarlyStop(2).update(1, float("nan"))


@pytest.fixture(scope="module")
def small():
    rows = tied_data()
    data = Interactions.from_triples([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], 9)
    return data, leave_one_out(data)


def export_of(data, split, max_len):
    out = {}
    for stage in ("valid", "test"):
        hist, tgt = split.history(stage), split.targets(stage)
        out[stage] = {
            uid: {
                "history": [data.item_ids[i - 1] for i in hist[u][-max_len:].tolist()],
                "target": data.item_ids[int(tgt[u]) - 1],
            }
            for u, uid in enumerate(data.user_ids)
        }
    return out


def test_check_split_counts_each_kind_of_difference(bench, small):
    data, split = small
    export = export_of(data, split, 3)
    clean = bench.check_split(export, data, split, max_len=3)
    assert clean["test"] == {"users": 6, "missing": 0, "target_differs": 0, "history_differs": 0, "extra": 0}
    assert clean["valid"]["target_differs"] == 0
    u0, u1, u2 = data.user_ids[:3]
    t = export["test"]
    t[u0]["target"] = "9" if t[u0]["target"] != "9" else "8"
    t[u1]["history"] = t[u1]["history"][::-1] + ["1"]
    del t[u2]
    t["stranger"] = {"history": [], "target": "1"}
    bad = bench.check_split(export, data, split, max_len=3)["test"]
    assert bad == {"users": 6, "missing": 1, "target_differs": 1, "history_differs": 1, "extra": 1}
    # a longer input than max_len is a history difference too
    assert (
        bench.check_split(export_of(data, split, 5), data, split, max_len=3)["valid"]["history_differs"] > 0
    )


def test_metrics_from_scores_is_seqlabs_evaluation(bench, cycles):
    pop = Popularity().fit(cycles)
    scores = pop.scores(cycles.history("test"))
    got = bench.metrics_from_scores(scores, cycles, "test")
    want = evaluate(pop, cycles, "test")
    assert all(got[k] == pytest.approx(want[k]) for k in got)
    # seen items kept: ranks by a plain loop over the items (ties to the lower id, padding excluded)
    g = torch.Generator().manual_seed(1)
    s = torch.randn(cycles.num_users, cycles.num_items + 1, generator=g)
    kept = bench.metrics_from_scores(s, cycles, "valid", exclude_seen=False)
    hits, gains = 0.0, 0.0
    for u, t in enumerate(cycles.targets("valid").tolist()):
        r = sum(
            1 for j in range(1, cycles.num_items + 1) if s[u, j] > s[u, t] or (s[u, j] == s[u, t] and j < t)
        )
        hits += r < 10
        gains += (r < 10) / math.log2(r + 2)
    assert kept["recall@10"] == pytest.approx(hits / cycles.num_users)
    assert kept["ndcg@10"] == pytest.approx(gains / cycles.num_users)
    with pytest.raises(ValueError, match=r"scores must be \(users, num_items \+ 1\)"):
        bench.metrics_from_scores(s[:, :-1], cycles, "test")


def test_anchor_histories_and_table(bench, small):
    data, split = small
    h = bench.anchor_histories(data, split)
    assert h["users"] == data.user_ids and h["items"] == data.item_ids
    assert h["test"]["seen"][2] == split.history("test")[2].tolist()
    assert h["valid"]["target"] == split.valid.tolist()
    other = leave_one_out(Interactions.from_triples([0, 0, 0], [1, 2, 3], [1, 2, 3], 3))
    with pytest.raises(ValueError, match="is not the data of this split"):
        bench.anchor_histories(data, other)
    run = {
        "test": {"recall@10": 0.1, "ndcg@10": 0.05, "recall@20": 0.2, "ndcg@20": 0.07},
        "test_no_exclusion": {"ndcg@10": 0.04},
        "best_epoch": 3,
        "epochs_run": 6,
        "steps_per_epoch": 380,
        "train_cpu_s_to_best": 100.0,
        "train_cpu_s": 200.0,
        "train_wall_s": 900.0,
    }
    text = bench.anchor_table(
        {"runs": {"recbole:SASRec@seed0": run, "recbole:GRU4Rec@seed0": {"error": "boom"}}}
    )
    row = "| recbole:SASRec@seed0 | 3 / 6 | 380 | 0.1000 | 0.0500 | 0.2000 | 0.0700 | 0.0400 |"
    assert row + " 100 (200) | 900 |" in text
    assert "| recbole:GRU4Rec@seed0 | boom |" in text


def test_seqlab_anchor_is_the_plain_fit_with_validation_each_epoch(bench, cycles):
    r = bench.seqlab_anchor("gru4rec", cycles, 0, max_epochs=3, patience=10, log=lambda *_: None)
    assert r["epochs_run"] == 3 and [e["epoch"] for e in r["curve"]] == [1, 2, 3]
    plain = build("gru4rec", 0, epochs=3).fit(cycles)
    assert r["curve"][-1]["valid"]["ndcg@10"] == pytest.approx(evaluate(plain, cycles, "valid")["ndcg@10"])
    best = max(range(3), key=lambda k: (r["curve"][k]["valid"]["ndcg@10"], k))
    assert r["best_epoch"] == best + 1
    if r["best_epoch"] == 3:
        assert r["test"]["ndcg@10"] == pytest.approx(evaluate(plain, cycles, "test")["ndcg@10"])
    with pytest.raises(ValueError, match="patience must be an int >= 0"):
        bench.seqlab_anchor("gru4rec", cycles, 0, max_epochs=3, patience=-1)


def test_report_curves_and_merge(bench, tmp_path):
    def run(scores, best):
        return {
            "test": {"recall@10": 0.1, "ndcg@10": 0.05, "recall@20": 0.2, "ndcg@20": 0.07},
            "best_epoch": best,
            "epochs_run": len(scores),
            "steps_per_epoch": 10,
            "train_cpu_s_to_best": 1.0,
            "train_cpu_s": 2.0,
            "train_wall_s": 3.0,
            "curve": [{"epoch": e + 1, "valid": {"ndcg@10": v}} for e, v in enumerate(scores)],
        }

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"runs": {"seqlab:sasrec@seed0": run([0.01, 0.03, 0.02], 2)}}))
    b.write_text(json.dumps({"runs": {"recbole:SASRec@seed0": run([0.02], 1)}, "ties": {"users": 9}}))
    store = bench.merge_anchor([a, b], tmp_path / "out" / "m.json")
    assert set(store["runs"]) == {"seqlab:sasrec@seed0", "recbole:SASRec@seed0"} and store["ties"] == {
        "users": 9
    }
    curves = bench.anchor_curves(store)
    assert "| 2 | 0.0300* |  |" in curves and "| 1 | 0.0100 | 0.0200* |" in curves
    md = (tmp_path / "out" / "m.md").read_text()
    assert curves in md and '"users": 9' in md and "| seqlab:sasrec@seed0 | 2 / 3 | 10 |" in md


def test_seqlab_anchor_reports_the_unexcluded_metric_too(bench, cycles):
    r = bench.seqlab_anchor("sasrec", cycles, 0, max_epochs=2, patience=0, log=lambda *_: None)
    # seen items kept in the ranking can only push the target down
    assert r["test_no_exclusion"]["recall@10"] <= r["test"]["recall@10"]
    assert r["test_no_exclusion"]["ndcg@10"] <= r["test"]["ndcg@10"] + 1e-12
