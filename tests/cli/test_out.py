"""Plain output writes what rich writes to a pipe or a file, without importing rich."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.errors import MarkupError
from rich.markup import escape as rich_escape

from segmint.agent.cli._out import Writer, escape, plain

# Brackets, backslashes, tag-like words and the characters rich treats specially.
PIECES = st.sampled_from(["[", "]", "\\", "/", "bold", "dim", "[bold]", "[/bold]", "[/]", "[dim]",
                          "[link=x]", "[/link]", "[1, 2]", "[ x]", "[#fff]", "[@click]", "a", " ",
                          "\t", "\n", "\r", "\x07", "é", "中", "✓", "e\u0301", "ｱ", "£3,120.00", ":smile:"])
TEXT = st.lists(PIECES, max_size=12).map("".join)


def rich_prints(markup: str) -> str:
    buffer = io.StringIO()
    Console(file=buffer, soft_wrap=True, highlight=False, emoji=False).print(markup)
    return buffer.getvalue()


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_plain_is_what_rich_prints(markup: str) -> None:
    try:
        expected = rich_prints(markup)
    except MarkupError:  # rich refuses a closing tag with nothing to close; plain drops it
        return
    assert plain(markup) + "\n" == expected


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_escape_is_riches(text: str) -> None:
    assert escape(text) == rich_escape(text)
    assert plain(escape(text)) + "\n" == rich_prints(rich_escape(text))


@pytest.mark.parametrize(("markup", "shown"), [
    ("[bold]wrote 62 customers[/bold] to [dim]x.csv[/dim]", "wrote 62 customers to x.csv"),
    (r"path \[2024] and \\[bold]b[/bold]", "path [2024] and \\b"),
    (r"\[bold] stays", "[bold] stays"),
    ("unclosed [/bold] tag", "unclosed  tag"),  # rich raises here
    ("tab\there", "tab     here"),
])
def test_plain_examples(markup: str, shown: str) -> None:
    assert plain(markup) == shown


def test_writer_follows_the_current_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    writer, first, second = Writer(), io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", first)
    writer.print("[bold]one[/bold]")
    monkeypatch.setattr(sys, "stdout", second)
    writer.print("two [x]", markup=False)
    assert (first.getvalue(), second.getvalue()) == ("one\n", "two [x]\n")


def test_a_piped_read_command_never_imports_rich() -> None:
    code = ("import sys; from segmint.agent.cli._out import out; out.print('[bold]hi[/bold]'); "
            "sys.stderr.write(str('rich' in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (done.stdout, done.stderr) == ("hi\n", "False")
