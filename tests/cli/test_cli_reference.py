"""docs/cli.md is generated from the CLI (segmint.agent.cli.reference) and must be current."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.core import TyperGroup

from segmint.agent.cli import app
from segmint.agent.cli.reference import REGENERATE, render

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_committed_reference_is_current() -> None:
    assert COMMITTED.exists(), f"docs/cli.md is missing; generate it with {REGENERATE}"
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        f"docs/cli.md is out of date with the CLI; regenerate it with {REGENERATE}"
    )


def test_every_command_and_option_is_documented() -> None:
    text = render()
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    ctx = typer.Context(root, info_name="segmint")
    commands = {}
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        assert command is not None
        if isinstance(command, TyperGroup):  # `audience save`, `audience list`...
            sub_ctx = typer.Context(command, info_name=name, parent=ctx)
            for sub in command.list_commands(sub_ctx):
                commands[f"{name} {sub}"] = command.get_command(sub_ctx, sub)
        else:
            commands[name] = command
    assert {"run", "ask", "segments", "export", "serve", "audience save", "history"} <= set(commands)
    for name, command in commands.items():
        assert f"\n## segmint {name}\n" in text, f"segmint {name} is not documented"
        section = text.split(f"\n## segmint {name}\n", 1)[1].split("\n## ", 1)[0]
        assert command is not None
        for param in command.get_params(typer.Context(command)):
            if param.name != "help":
                label = param.opts[0] if param.param_type_name == "option" else param.name.upper()
                assert f"`{label}`" in section, f"segmint {name}: {label} not documented"


def test_reference_ignores_terminal_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    before = render()
    monkeypatch.setenv("COLUMNS", "20")
    monkeypatch.setenv("SEGMINT_WORKSPACE", "/somewhere/else")
    monkeypatch.setenv("TYPER_USE_RICH", "0")
    assert render() == before


class Colour(StrEnum):
    red = "red"
    blue = "blue"


def _toy_app() -> typer.Typer:
    toy = typer.Typer(help="A toy CLI.")
    sub = typer.Typer(help="Saved audiences.")
    toy.add_typer(sub, name="audience")

    @toy.command()
    def paint(
        files: Annotated[list[Path], typer.Argument(help="Files to paint.")],
        colour: Annotated[Colour, typer.Option(help="Which colour.")] = Colour.blue,
        coats: Annotated[int, typer.Option(min=1, max=9, help="Coats: 1|2|3.")] = 2,
        tag: Annotated[list[str] | None, typer.Option(help="A tag.", envvar="TOY_TAG")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would happen.")] = False,
    ) -> None:
        """Paint files.

        Several paragraphs are kept.
        """

    @toy.command(hidden=True)
    def secret() -> None:
        """Not listed."""

    @sub.command("save")
    def save(name: Annotated[str, typer.Argument(help="Audience name.")]) -> None:
        """Save an audience."""

    return toy


def test_render_covers_groups_types_defaults_and_escapes() -> None:
    text = render(typer.main.get_command(_toy_app()))
    assert "## segmint paint\n\nPaint files.\n\nSeveral paragraphs are kept.\n" in text
    assert "## segmint audience save\n" in text and "| `NAME` | str |  | Audience name. |" in text
    assert "secret" not in text
    assert "| `FILES` | list[Path] |  | Files to paint. |" in text
    assert "| `--colour` | red\\|blue | `blue` | Which colour. |" in text
    assert "| `--coats` | int ≥ 1, ≤ 9 | `2` | Coats: 1\\|2\\|3. |" in text
    assert "| `--tag` | list[str], repeatable |  | A tag. (env: `TOY_TAG`) |" in text
    assert "| `--dry-run` |  |  | Only say what would happen. |" in text
    assert "[`segmint audience save`](#segmint-audience-save)" in text
