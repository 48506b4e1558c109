import pytest

from seqlab.cli import main
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
