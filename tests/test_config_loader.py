"""The YAML/TOML loader refuses what could blow up or silently change a config (issue 10 faults)."""

import tracemalloc

import pytest

from seqlab.bench.grid import load_grid
from seqlab.experiments.config import MAX_GRID_RUNS, ConfigError, check_grid_size, load_config_file


def _laughs(levels: int = 9) -> str:
    """The "billion laughs" file: each level lists the previous one nine times (9**levels strings)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_fails_fast_without_expanding(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(_laughs())
    assert len(path.read_bytes()) < 600
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match=r"laughs\.yaml:1: YAML anchor '&a0' is not allowed"):
            load_config_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # 9**9 strings would need gigabytes


def test_alias_is_refused_with_its_line(tmp_path):
    path = tmp_path / "grid.yaml"
    # an alias to an undefined anchor reaches the alias check without any anchor before it
    path.write_text("name: g\ndefaults:\n  steps: 3\nexperiments: *missing\n")
    with pytest.raises(ConfigError, match=r"grid\.yaml:4: .*(alias '\*missing'|undefined alias)"):
        load_config_file(path)
    path.write_text("base: &b {steps: 3}\nother:\n  <<: *b\n")
    with pytest.raises(ConfigError, match=r"grid\.yaml:1: YAML anchor '&b'"):
        load_config_file(path)


def test_duplicate_keys_name_the_key_and_both_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("name: g\ndefaults:\n  steps: 3\n  lr: 0.1\n  steps: 4\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml:5: duplicate key 'steps' \(first defined at line 3\)"):
        load_config_file(path)
    path.write_text("name: a\nexperiments: []\nname: b\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml:3: duplicate key 'name' \(first defined at line 1\)"):
        load_config_file(path)


def test_duplicate_keys_in_toml_are_refused(tmp_path):
    path = tmp_path / "dup.toml"
    path.write_text('name = "a"\nname = "b"\n')
    with pytest.raises(ConfigError, match=r"dup\.toml: malformed TOML"):
        load_config_file(path)


def test_unsafe_tags_and_odd_keys_are_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text('a: !!python/object/apply:os.system ["echo pwned"]\n')
    with pytest.raises(ConfigError, match=r"bad\.yaml:1: YAML tag .*python/object/apply"):
        load_config_file(path)
    path.write_text("a: !!python/name:os.system\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:1: malformed YAML"):
        load_config_file(path)
    path.write_text("? [1, 2]\n: x\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:1: mapping keys must be plain scalars"):
        load_config_file(path)


def test_deep_nesting_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(ConfigError, match=r"deep\.yaml.*nested"):
        load_config_file(path)


def test_plain_yaml_still_loads_with_lines(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("name: g\ndefaults:\n  steps: 3\nexperiments:\n  - {task: parity, mixers: [lstm]}\n")
    data = load_config_file(path)
    assert data["defaults"] == {"steps": 3} and data["defaults"].lines == {"steps": 3}
    assert data.lines["experiments"] == 4 and data["experiments"][0]["mixers"] == ["lstm"]


def test_check_grid_size_names_the_count_and_the_limit():
    check_grid_size(MAX_GRID_RUNS, "g.yaml")
    with pytest.raises(
        ConfigError, match=r"g\.yaml: the grid expands to 10,001 runs, more than the limit of 10,000"
    ):
        check_grid_size(MAX_GRID_RUNS + 1, "g.yaml")
    with pytest.raises(ConfigError, match=r"expands to 5 runs, more than the limit of 4"):
        check_grid_size(5, "g.yaml", limit=4)


def test_huge_grid_is_refused_before_it_is_expanded(tmp_path):
    axes = "\n".join(f"          k{i}: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" for i in range(8))
    path = tmp_path / "huge.yaml"
    path.write_text(
        "name: huge\nexperiments:\n"
        "  - task: parity_check\n"
        "    mixers: [lstm, attention]\n"
        "    difficulty:\n"
        f"{axes}\n".replace("          ", "      ")
    )
    tracemalloc.start()
    try:
        expected = r"huge\.yaml:3: experiments\[0\]: the grid expands to 200,000,000 runs"
        with pytest.raises(ConfigError, match=expected):
            load_grid(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_override_values_refuse_aliases_and_keep_plain_values():
    from seqlab.experiments.config import parse_value

    laughs = "[&a [lol, lol, lol], &b [*a, *a, *a], [*b, *b, *b]]"
    with pytest.raises(ConfigError, match=r"override value .*:1: YAML anchor '&a' is not allowed"):
        parse_value(laughs)
    with pytest.raises(ConfigError, match=r"duplicate key 'a'"):
        parse_value("{a: 1, a: 2}")
    assert parse_value("3") == 3 and parse_value("1e-3") == 1e-3 and parse_value("") is None
    assert parse_value("[1, 2]") == [1, 2] and parse_value("{mode: loop}") == {"mode": "loop"}
    assert parse_value("abc") == "abc" and parse_value("null") is None
