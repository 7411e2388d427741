"""Command output: rich on a terminal, the same text without rich otherwise.

Importing rich costs a read command 35-60 ms (bench/RESULTS.md "Cold start"), as much as the
command's own work. Output that goes to a pipe or a file never shows rich's styles, so it is
written here as the text rich would write there: markup tags removed, escaped brackets kept,
tabs expanded, terminal control characters dropped (tests/cli/test_out.py checks it against rich).
Anything that is not a string (a table) is still printed by rich.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Writer", "err", "escape", "out", "plain"]

# rich.markup's tag pattern: a tag starts with a letter, '#', '/' or '@'; backslashes escape it.
_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")
_ESCAPABLE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")
# The control characters rich strips from printed text (rich.control.strip_control_codes).
_CONTROL = str.maketrans("", "", "\x07\x08\x0b\x0c\x0d")


def escape(text: str) -> str:
    """Text that prints as itself inside markup (what `rich.markup.escape` returns)."""
    text = _ESCAPABLE.sub(lambda m: f"{m[1]}{m[1]}\\{m[2]}", text)
    return text + "\\" if text.endswith("\\") and not text.endswith("\\\\") else text


def plain(markup: str) -> str:
    """The text a markup string prints as: tags removed and escapes resolved, as rich does,
    except that a closing tag with nothing to close is dropped where rich raises."""
    parts, position = [], 0
    for match in _TAG.finditer(markup):
        full, escapes, _ = match.groups()
        parts.append(markup[position:match.start()].replace("\\[", "["))
        position = match.end()
        if escapes:
            backslashes, escaped = divmod(len(escapes), 2)
            parts.append("\\" * backslashes)
            if escaped:  # an escaped tag is text
                parts.append(full[len(escapes):])
    parts.append(markup[position:].replace("\\[", "["))  # rich: a bracket escaped outside a tag
    return _as_printed("".join(parts))


def _as_printed(text: str) -> str:
    text = text.translate(_CONTROL)
    return "\n".join(map(_expand_tabs, text.split("\n"))) if "\t" in text else text


def _expand_tabs(line: str, size: int = 8) -> str:
    """Tabs to spaces at every `size` terminal cells, a wide character (中) taking two, as rich."""
    out, column = [], 0
    for ch in line:
        if ch == "\t":
            pad = size - column % size
            out.append(" " * pad)
            column += pad
        else:
            out.append(ch)
            column += 2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1
    return "".join(out)


class Writer:
    """Prints markup to stdout or stderr, whichever stream is current when it prints (a test
    runner swaps them): through rich on a terminal, as `plain` text elsewhere."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def _stream(self) -> IO[str]:
        return sys.stderr if self._stderr else sys.stdout

    @property
    def is_terminal(self) -> bool:
        """Whether the stream is a terminal (then rich prints, with styles and a live status)."""
        isatty = getattr(self._stream, "isatty", None)
        return bool(isatty and isatty())

    @property
    def console(self) -> Console:
        """The rich console for this stream (imports rich)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, soft_wrap=True, highlight=False, emoji=False)
        return self._console

    def print(self, renderable: Any = "", *, markup: bool = True) -> None:
        """Print a markup string (or, with `markup=False`, a literal one), or a rich renderable."""
        if isinstance(renderable, str) and not self.is_terminal:
            self._stream.write((plain(renderable) if markup else _as_printed(renderable)) + "\n")
        else:
            self.console.print(renderable, markup=markup)


out = Writer()
err = Writer(stderr=True)
