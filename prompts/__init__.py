"""Prompt templates as files, and their loader.

A template is a `.md` or `.txt` file named after the prompt (`parse_question.md`). Placeholders
are `{identifier}`; any other brace (a JSON example, `{"a": 1}`) is literal text. A template may be
split into chat roles with marker lines `--- system ---` and `--- user ---`; without markers the
whole file is the user message.

Lookup order for a name: the directory passed to `load`/`render`, then `$SEGMINT_PROMPTS_DIR`,
then the templates packaged here. So a shop can override any prompt by dropping a file with the
same name into its own directory.

Values are data, not template text: substitution is single-pass (a value containing `{x}` is not
expanded again), and anything in a value that looks like a markup tag (`</question>`) has its
angle brackets replaced, so text from customers or questions cannot close the tagged block the
template put it in and pose as instructions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segmint.agent.query.glossary import Glossary, load_glossary
from segmint.prompts.templates import (
    ENV_DIR,
    ROLES,
    SUFFIXES,
    MissingPromptVariable,
    Prompt,
    PromptError,
    RenderedPrompt,
    UnknownPrompt,
    available,
    load,
    neutralise_tags,
    prompt_dirs,
)

__all__ = [
    "ENV_DIR",
    "ROLES",
    "SUFFIXES",
    "MissingPromptVariable",
    "Prompt",
    "PromptError",
    "RenderedPrompt",
    "UnknownPrompt",
    "available",
    "glossary_block",
    "load",
    "neutralise_tags",
    "prompt_dirs",
    "render",
]


def render(name: str, *, prompts_dir: str | Path | None = None, glossary: Glossary | None = None,
           **variables: Any) -> RenderedPrompt:
    """Load a template and fill it; `{glossary}` is filled from the glossary unless given.

    Args:
        name: the template name.
        prompts_dir: a directory searched first for an overriding template.
        glossary: the business terms to inject; the packaged glossary by default.
        **variables: values for the template's other placeholders.

    Raises:
        UnknownPrompt: no such template.
        MissingPromptVariable: a placeholder has no value.
    """
    prompt = load(name, prompts_dir=prompts_dir)
    if "glossary" in prompt.variables and "glossary" not in variables:
        variables["glossary"] = glossary_block(glossary)
    return prompt.render(**variables)


def glossary_block(glossary: Glossary | None = None, max_synonyms: int = 4) -> str:
    """The glossary as prompt text: one line per term with its key, meaning and a few synonyms."""
    glossary = glossary or load_glossary()
    lines = []
    for key, term in glossary.terms.items():
        # A few synonyms show the model the range of wording; all of them would double the prompt.
        synonyms = ", ".join([s for s in term.synonyms if s != term.label][:max_synonyms])
        also = f" (also: {synonyms})" if synonyms else ""
        lines.append(f"- {key}: \"{term.label}\" = {term.meaning}{also}")
    return "\n".join(lines)
