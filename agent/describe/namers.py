"""The namer for a run's `--llm` spec: none for `builtin` (the built-in names stand), else the LLM chain."""

from __future__ import annotations

from pathlib import Path

from segmint.agent.describe.naming import Namer
from segmint.agent.describe.naming_chain import LLMNamer
from segmint.agent.llm.backends import LLMUnavailable
from segmint.agent.llm.structured import open_chat_model
from segmint.agent.query.glossary import Glossary


def make_namer(spec: str, log_dir: Path, glossary: Glossary, n_users: int
               ) -> tuple[Namer | None, str | None]:
    """The LLM naming chain for a `--llm` spec (None for builtin), or the reason it cannot run.

    Args:
        spec: the `--llm` value.
        log_dir: the workspace directory (for the LLM call log).
        glossary: business terms for the prompt.
        n_users: the shop's customer count (a number descriptions may state).

    Returns:
        The namer and None; or None and why the asked-for LLM cannot name (None for builtin).

    Raises:
        LLMSpecError: a malformed spec (a usage error, exit 2).
    """
    try:
        # One probe per run: a dead server costs seconds, not a timeout per segment.
        parsed, model = open_chat_model(spec, log_dir)
    except LLMUnavailable as exc:
        return None, str(exc)
    if model is None:
        return None, None
    return LLMNamer(model, parsed.label, glossary, total_customers=n_users), None
