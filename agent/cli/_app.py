"""The shared pieces of the `segmint` command line: the typer app, common options and output."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from segmint.agent.cli._out import err

if TYPE_CHECKING:  # built by `err.console.status` for `run` alone: the read commands skip rich
    from rich.status import Status

app = typer.Typer(
    name="segmint",
    help="Customer segments from e-commerce event logs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace directory.", envvar="SEGMINT_WORKSPACE")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ExcludeOpt = Annotated[list[str] | None, typer.Option(
    "--exclude", help="Leave out the members of a saved audience (repeatable).")]
LlmOpt = Annotated[str | None, typer.Option(help="builtin, openai:MODEL, ollama:MODEL, ...")]


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str, ensure_ascii=False) + "\n")


class StageDisplay:
    """Progress on stderr: a live spinner per stage on a terminal, one line per stage otherwise."""

    def __init__(self, quiet: bool) -> None:
        self._quiet = quiet and not err.is_terminal
        self._status: Status | None = None
        self._started = 0.0

    def __call__(self, stage: str) -> None:
        self._finish()
        self._started = time.perf_counter()
        if self._quiet:
            return
        if err.is_terminal:
            self._status = err.console.status(f"{stage}…", spinner="dots")
            self._status.start()
            self._stage = stage
        else:
            err.print(f"· {stage}…", markup=False)

    def _finish(self) -> None:
        if self._status is not None:
            self._status.stop()
            err.print(f"[green]✓[/green] {self._stage} [dim]{time.perf_counter() - self._started:.1f}s[/dim]")
            self._status = None

    def __enter__(self) -> StageDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
