"""The `segmint` command line: a thin layer over the library (docs/cli.md).

Importing this package registers every command on `app`; `main` is the console script.
"""

from __future__ import annotations

import os
import sys

import typer

from segmint.agent.cli import act, audience, commands, serve
from segmint.agent.cli._app import app
from segmint.agent.core.errors import SegmintError
from segmint.agent.core.runtime import offline_models

__all__ = ["app", "main"]
_COMMAND_MODULES = (commands, act, audience, serve)  # imported for their side effect: they register commands


def _fail(message: str) -> None:
    # Plain write: one line, never wrapped to the terminal's width.
    sys.stderr.write(" ".join(message.split()) + "\n")


def main() -> None:
    """Console-script entry point: maps errors to one line and an exit code (docs/cli.md)."""
    offline_models()
    try:
        app(standalone_mode=False)
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
