"""Prompt templates as files: lookup, loading and single-pass rendering (see `segmint.prompts`).

Nothing here knows the glossary, so the LLM call path (`segmint.agent.llm.structured`) can take
rendered prompts and their errors without depending on the query layer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

PACKAGE = "segmint.prompts"  # the packaged templates lie beside this module
ENV_DIR = "SEGMINT_PROMPTS_DIR"
SUFFIXES = (".md", ".txt")
ROLES = ("system", "user")

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MARKER = re.compile(r"^---[ \t]*(system|user)[ \t]*---[ \t]*$", re.MULTILINE)
_TAG = re.compile(r"<(/?[ \t]*[A-Za-z_][\w:.-]*[^<>]{0,200})>")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class PromptError(LookupError):
    """Base class for prompt problems; the message is one line."""


class UnknownPrompt(PromptError):
    """No template file with this name in any prompt directory."""


class MissingPromptVariable(PromptError):
    """A template uses a variable that the caller did not give.

    Attributes:
        prompt: the template's name.
        missing: the variables not given, sorted.
    """

    def __init__(self, prompt: str, missing: list[str], source: str) -> None:
        self.prompt = prompt
        self.missing = missing
        super().__init__(
            f"prompt '{prompt}' ({source}) needs variable(s) {', '.join(missing)}; pass them to render()"
        )


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt with every placeholder filled.

    Attributes:
        name: the template's name.
        system: the system message ("" when the template has none).
        user: the user message.
    """

    name: str
    system: str
    user: str

    def messages(self) -> list[tuple[str, str]]:
        """Role/content pairs, the form LangChain chat models accept in `invoke`."""
        out = [("system", self.system)] if self.system else []
        return [*out, ("human", self.user)]

    @property
    def text(self) -> str:
        """System and user parts as one text (for size estimates and logs)."""
        return f"{self.system}\n\n{self.user}" if self.system else self.user


@dataclass(frozen=True)
class Prompt:
    """A loaded template.

    Attributes:
        name: the template's name (its file name without suffix).
        source: where it was read from.
        sections: role -> template text.
    """

    name: str
    source: str
    sections: Mapping[str, str]

    @property
    def variables(self) -> set[str]:
        """Every placeholder the template uses."""
        return {m.group(1) for text in self.sections.values() for m in _PLACEHOLDER.finditer(text)}

    def render(self, **variables: Any) -> RenderedPrompt:
        """Fill the placeholders.

        Args:
            **variables: a value for every placeholder; values are turned into text with `str`.
                Extra variables are ignored, so one call can serve templates that use fewer.

        Raises:
            MissingPromptVariable: a placeholder has no value.
        """
        missing = sorted(self.variables - variables.keys())
        if missing:
            raise MissingPromptVariable(self.name, missing, self.source)
        safe = {k: neutralise_tags(str(v)) for k, v in variables.items()}

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: safe[m.group(1)], text).strip()

        return RenderedPrompt(self.name, fill(self.sections.get("system", "")),
                              fill(self.sections.get("user", "")))


def neutralise_tags(value: str) -> str:
    """Replace the angle brackets of anything tag-like so data cannot open or close a block.

    Comparisons such as `orders > 5` or `< 3` are not tags and stay as they are.
    """
    return _TAG.sub(lambda m: f"‹{m.group(1)}›", value)


def prompt_dirs(prompts_dir: str | Path | None = None) -> list[Path]:
    """The user directories searched before the packaged templates, in order."""
    dirs = [Path(prompts_dir)] if prompts_dir else []
    env = os.environ.get(ENV_DIR)
    if env:
        dirs.append(Path(env))
    return dirs


def load(name: str, *, prompts_dir: str | Path | None = None) -> Prompt:
    """Load a template by name, a user directory's file taking precedence over the packaged one.

    Args:
        name: the template name, e.g. "parse_question".
        prompts_dir: a directory searched first (then `$SEGMINT_PROMPTS_DIR`, then the package).

    Raises:
        UnknownPrompt: no such template anywhere, or an invalid name.
    """
    if not _NAME.match(name):
        raise UnknownPrompt(f"invalid prompt name {name!r}")
    for directory in prompt_dirs(prompts_dir):
        for suffix in SUFFIXES:
            path = directory / f"{name}{suffix}"
            if path.is_file():
                return Prompt(name, str(path), _sections(path.read_text(encoding="utf-8")))
    package = resources.files(PACKAGE)
    for suffix in SUFFIXES:
        res = package.joinpath(f"{name}{suffix}")
        if res.is_file():
            return Prompt(name, f"packaged {name}{suffix}", _sections(res.read_text(encoding="utf-8")))
    where = ", ".join(str(d) for d in prompt_dirs(prompts_dir)) or "no user directory"
    raise UnknownPrompt(f"no prompt named '{name}' ({where}; packaged: {', '.join(available())})")


def available() -> list[str]:
    """Names of the packaged templates."""
    names = {Path(r.name).stem for r in resources.files(PACKAGE).iterdir()
             if r.name.endswith(SUFFIXES)}
    return sorted(names)


def _sections(text: str) -> dict[str, str]:
    parts = _MARKER.split(text)
    if len(parts) == 1:
        return {"user": text}
    sections: dict[str, str] = {}
    # parts = [preamble, role, body, role, body, ...]; a preamble before the first marker is a
    # comment for people editing the file and never reaches the model.
    for role, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[role] = sections.get(role, "") + body
    return sections
