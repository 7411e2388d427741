"""Errors a user can act on. Each renders as one line; the CLI maps them to exit codes."""

from __future__ import annotations

from pathlib import Path


class SegmintError(Exception):
    """Base class for errors that carry a user-facing one-line message."""

    exit_code = 1


class InputError(SegmintError):
    """Unusable input: names the file, the field and the fix (exit code 2)."""

    exit_code = 2

    def __init__(
        self, message: str, *, file: str | Path | None = None, field: str | None = None,
        fix: str | None = None, kind: str = "column",
    ) -> None:
        self.file = str(file) if file is not None else None
        self.field = field
        self.fix = fix
        parts = []
        if self.file:
            parts.append(f"{self.file}:")
        if field:
            parts.append(f"{kind} '{field}':")
        parts.append(message.rstrip("."))
        line = " ".join(parts)
        if fix:
            line += f" — fix: {fix}"
        super().__init__(line)


class UsageError(SegmintError):
    """A command used the wrong way (exit code 2)."""

    exit_code = 2


class NotUnderstood(SegmintError):
    """A question the parser could not turn into a query (exit code 3)."""

    exit_code = 3
