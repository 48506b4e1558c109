"""The ``seqlab`` command.

Sub-commands live in :mod:`seqlab.commands`, one module each, discovered at start-up. A command
module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.

Exit codes: what ``run`` returns (0 on success); 2 for a user error -- a bad argument, config or
file (``ValueError`` including ``ConfigError``/``CheckpointError``, ``FileNotFoundError``) or an
unknown registered name -- printed as one line; 1 for anything else, which is a bug and prints its
full traceback; 130 when interrupted. ``--traceback`` (or ``SEQLAB_TRACEBACK=1``) prints the
traceback of user errors too.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from pathlib import Path

import seqlab
import seqlab.commands as commands_pkg

USER_ERRORS = (ValueError, FileNotFoundError)
"""Exceptions that mean "the input was wrong" (``ConfigError`` and ``CheckpointError`` are ValueErrors)."""


class HelpFormatter(argparse.HelpFormatter):
    """Adds ``(default: X)`` to every option whose help does not already state its default.

    Unlike :class:`argparse.ArgumentDefaultsHelpFormatter` it also documents options given no help
    text, and it leaves out defaults that say nothing (``None`` and the ``False`` of a flag).
    """

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and "default" not in text
            and default is not argparse.SUPPRESS
            and default is not None
            and not (isinstance(default, bool) and action.nargs == 0)
        ):
            text = f"{text} (default: %(default)s)" if text else "(default: %(default)s)"
        return text


def _command_modules():
    mods = []
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module(f"{commands_pkg.__name__}.{info.name}"))
    return mods


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(
        prog="seqlab",
        description="seqlab: continuous representations of sequences -- mixers, benchmarks, papers.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"seqlab {seqlab.__version__}")
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="print the full traceback of user errors too (also SEQLAB_TRACEBACK=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    table = {}
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP, formatter_class=HelpFormatter)
        mod.add_arguments(p)
        table[mod.NAME] = mod
    return parser, table


def _unknown_name(err: BaseException) -> bool:
    """A ``KeyError`` raised by the registry's lookup: an unknown component name the user gave."""
    if not isinstance(err, KeyError) or err.__traceback__ is None:
        return False
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve() == Path(seqlab.registry.__file__).resolve()


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` is the user's (bad input: short message, exit 2) rather than a bug (traceback)."""
    return isinstance(err, USER_ERRORS) or _unknown_name(err)


def main(argv: list[str] | None = None) -> int:
    parser, table = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    verbose = args.traceback or os.environ.get("SEQLAB_TRACEBACK", "") not in ("", "0")
    try:
        return int(table[args.command].run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if not is_user_error(err):
            traceback.print_exc()
            print(
                f"seqlab {args.command}: internal error ({type(err).__name__}); this is a bug in seqlab, "
                f"the traceback above shows where",
                file=sys.stderr,
            )
            return 1
        if verbose:
            traceback.print_exc()
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"seqlab {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
