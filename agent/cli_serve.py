"""`segmint serve`: the web app and REST API (DESIGN §4), registered on the main CLI app."""

from __future__ import annotations

from segmint.agent.cli import app  # noqa: F401  (commands below register on it)
