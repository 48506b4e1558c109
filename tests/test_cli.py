import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqlab.cli import build_parser, main
from seqlab.registry import names


def test_list_mixers_shows_every_mixer_with_modes(capsys):
    assert main(["list", "mixers"]) == 0
    out = capsys.readouterr().out
    for name in names("mixer"):
        assert name in out
    assert "parallel, chunked, step" in out


def test_unknown_kind_is_a_clear_error(capsys):
    assert main(["list", "gizmos"]) == 2
    err = capsys.readouterr().err
    assert "unknown kind 'gizmos'" in err and "mixer" in err


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("bench", "list", "papers", "speed", "demo"):
        assert command in out


def test_version_in_process_and_as_a_command(capsys):
    import seqlab

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"seqlab {seqlab.__version__}"
    src = Path(__file__).resolve().parents[1] / "src"
    out = subprocess.run(
        [sys.executable, "-m", "seqlab", "--version"],
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"seqlab {seqlab.__version__}"


def _fail_with(monkeypatch, exc_factory):
    import seqlab.commands.list as list_cmd

    def run(args):
        raise exc_factory()

    monkeypatch.setattr(list_cmd, "run", run)


def test_internal_key_error_prints_its_traceback_and_exits_1(monkeypatch, capsys):
    _fail_with(monkeypatch, lambda: {}["missing_internal_key"])
    assert main(["list", "mixers"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "KeyError: 'missing_internal_key'" in err
    assert "internal error (KeyError)" in err and "bug" in err


def test_other_bugs_print_their_traceback(monkeypatch, capsys):
    _fail_with(monkeypatch, lambda: TypeError("unsupported operand"))
    assert main(["list", "mixers"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "TypeError: unsupported operand" in err


def test_unknown_registered_name_is_a_user_error(monkeypatch, capsys):
    from seqlab.registry import create

    _fail_with(monkeypatch, lambda: create("mixer", "no_such_mixer"))
    assert main(["list", "mixers"]) == 2
    err = capsys.readouterr().err
    assert "unknown mixer 'no_such_mixer'" in err and "Traceback" not in err


def test_user_errors_are_one_line_unless_traceback_is_asked(monkeypatch, capsys):
    from seqlab.experiments.config import ConfigError

    _fail_with(monkeypatch, lambda: ConfigError("grid.yaml:3: bad field"))
    assert main(["list", "mixers"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "seqlab list: error: grid.yaml:3: bad field"
    assert main(["--traceback", "list", "mixers"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().endswith("seqlab list: error: grid.yaml:3: bad field")
    _fail_with(monkeypatch, lambda: FileNotFoundError("results store x.sqlite does not exist"))
    assert main(["list", "mixers"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_demo_unknown_mixer_is_a_user_error(capsys):
    assert main(["demo", "--mixers", "lstm,no_such_mixer"]) == 2
    err = capsys.readouterr().err
    assert "unknown mixer(s) no_such_mixer" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["tokenize", "continual", "demo"])
def test_help_documents_every_option_and_its_default(command, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "250")  # one line per option
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    parser, _ = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    for action in sub._actions:
        if not action.option_strings or action.dest == "help":
            continue
        lines = text.splitlines()
        i = next(i for i, ln in enumerate(lines) if ln.strip().startswith(action.option_strings[0]))
        j = next((j for j in range(i + 1, len(lines)) if not lines[j].startswith(" " * 6)), len(lines))
        line = " ".join(ln.strip() for ln in lines[i:j])  # the option and its (wrapped) help
        assert action.help, f"{command} {action.option_strings[0]} has no help text"
        if action.nargs != 0:  # not a flag
            assert "default" in line, f"{command} help does not give the default of {line.strip()!r}"
            if action.default is not None:
                assert f"(default: {action.default})" in line or "default:" in action.help, line
