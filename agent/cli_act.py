"""Commands that act on segments (recommend, brief, audit), registered on the main CLI app."""

from __future__ import annotations

from segmint.agent.cli import app  # noqa: F401  (commands below register on it)
