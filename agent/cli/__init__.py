"""The `segmint` command line: a thin layer over the library (docs/cli.md).

Importing this package registers every command on `app`; `main` is the console script.
"""

from __future__ import annotations

import copy
import os
import sys

import typer
from typer.main import get_command_name, get_group

from segmint.agent.cli import act, audience, commands, serve
from segmint.agent.cli._app import app
from segmint.agent.core.errors import SegmintError
from segmint.agent.core.runtime import offline_models

__all__ = ["app", "main"]
_COMMAND_MODULES = (commands, act, audience, serve)  # imported for their side effect: they register commands


def _fail(message: str) -> None:
    # Plain write: one line, never wrapped to the terminal's width.
    sys.stderr.write(" ".join(message.split()) + "\n")


def _asked(args: list[str]) -> typer.Typer:
    """The app with only the command the arguments name, when they name one.

    typer turns every registered command into a click command on each call, reading each
    function's signature (~25 ms for the 30 commands, bench/RESULTS.md "Cold start"); a run of
    one command needs only that one. Anything else (`--help`, an unknown or misspelt command)
    gets the whole app, so its help and errors list every command.
    """
    if not args or args[0].startswith("-"):
        return app
    name = args[0]
    commands = [c for c in app.registered_commands
                if (c.name or get_command_name(c.callback.__name__ if c.callback else "")) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    one = copy.copy(app)
    one.registered_commands, one.registered_groups = commands, groups
    return one


def main() -> None:
    """Console-script entry point: maps errors to one line and an exit code (docs/cli.md)."""
    offline_models()
    try:
        # a group even of one command: `segmint export ...` keeps its command word
        get_group(_asked(sys.argv[1:]))(standalone_mode=False)
    except SegmintError as exc:
        _fail(f"segmint: error: {exc}")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("segmint: aborted")
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument...
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if message:  # empty when the help text was already shown
            _fail(f"segmint: error: {message}")
        sys.exit(2)
    except Exception as exc:
        if os.environ.get("SEGMINT_DEBUG"):
            raise
        _fail(
            f"segmint: unexpected error: {type(exc).__name__}: {exc} "
            "(set SEGMINT_DEBUG=1 for a traceback)"
        )
        sys.exit(1)
