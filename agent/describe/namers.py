"""Namers by name: `builtin` (the built-in names stand) and `llm` (the LangChain naming chain).

`--llm` picks the entry: `builtin` for the built-in spec, `llm` for any backend spec. A namer only
ever replaces built-in texts it can verify (agent/describe/naming_chain.py), so the built-in namer
is always the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segmint.agent.core.registry import Registry
from segmint.agent.describe.naming import Namer
from segmint.agent.describe.naming_chain import LLMNamer
from segmint.agent.llm.backends import LLMUnavailable, parse_llm_spec
from segmint.agent.llm.structured import open_chat_model
from segmint.agent.query.glossary import Glossary

__all__ = ["NAMERS", "NamerChoice", "make_namer"]


@dataclass(frozen=True)
class NamerChoice:
    """What a namer factory returns: the namer (None: built-in texts stand) and why not, if asked."""

    namer: Namer | None
    problem: str | None = None


NAMERS: Registry[NamerChoice] = Registry("namer", "--llm")


@NAMERS.register("builtin")
def _builtin(spec: str, log_dir: Path, glossary: Glossary, n_users: int) -> NamerChoice:
    return NamerChoice(None)


@NAMERS.register("llm")
def _llm(spec: str, log_dir: Path, glossary: Glossary, n_users: int) -> NamerChoice:
    try:
        # One probe per run: a dead server costs seconds, not a timeout per segment.
        parsed, model = open_chat_model(spec, log_dir)
    except LLMUnavailable as exc:
        return NamerChoice(None, str(exc))
    if model is None:
        return NamerChoice(None)
    return NamerChoice(LLMNamer(model, parsed.label, glossary, total_customers=n_users))


def make_namer(spec: str, log_dir: Path, glossary: Glossary, n_users: int
               ) -> tuple[Namer | None, str | None]:
    """The namer for a `--llm` spec (None for builtin), or the reason the asked-for LLM cannot name.

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
    name = "builtin" if parse_llm_spec(spec).backend == "builtin" else "llm"
    choice = NAMERS.create(name, spec=spec, log_dir=log_dir, glossary=glossary, n_users=n_users)
    return choice.namer, choice.problem
