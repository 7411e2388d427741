"""The command-line reference (docs/cli.md), rendered from the typer app itself.

`python -m segmint.agent.cli.reference` prints it; `--write [FILE]` writes it (default
docs/cli.md). The output depends only on the commands' declarations, never on the terminal, the
environment or the machine, so tests/cli/test_cli_reference.py can hold the committed page to it.
What typer cannot know (the `--llm` and `--embedder` specs, the JSON documents, the REST routes)
is written here, in `_CONTRACT_TAIL`: change it together with the code it describes.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Iterator, Sequence
from enum import Enum
from pathlib import Path

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from segmint.agent.cli import app

__all__ = ["DEFAULT_PATH", "REGENERATE", "main", "render", "walk"]

DEFAULT_PATH = Path("docs/cli.md")
REGENERATE = "`make docs` (or `python -m segmint.agent.cli.reference --write`)"
PROG = "segmint"

Command = TyperGroup | TyperCommand
Param = TyperArgument | TyperOption

_HEADER = f"""\
# Command-line reference

<!-- Generated from the CLI by {REGENERATE}; do not edit by hand. -->
"""
_CONTRACT = """\
Every command takes `--help`. `--json` prints exactly one JSON document on stdout; progress and
logs go to stderr. Exit codes: 0 ok, 2 bad input or usage (a one-line message naming the file,
column and fix), 3 a question that could not be understood, 1 anything unexpected
(`SEGMINT_DEBUG=1` shows the traceback). Terms and features are defined in
[definitions.md](definitions.md).
"""


_CONTRACT_TAIL = """\
## Model specs

`--llm SPEC`: `builtin` (default: deterministic, offline, no LLM), `openai:MODEL` (any
OpenAI-compatible server: `OPENAI_BASE_URL`, `OPENAI_API_KEY`), `ollama:MODEL` (`OLLAMA_HOST`,
default `127.0.0.1:11434`), `llamacpp:PATH.gguf` (extra `segmint[llamacpp]`) or `hf:PATH` (a
local transformers model; extra `segmint[hf]`). Text an LLM writes is kept only when it verifies;
otherwise the built-in text or parser is used and the JSON says why
([architecture.md](architecture.md#the-llm-call-path)).

`--embedder SPEC`: `minilm` (default: the packaged all-MiniLM-L6-v2 through its float32 ONNX
export, cosine ≥ 0.999 to sentence-transformers), `minilm-st` (sentence-transformers itself),
`st:NAME_OR_PATH` (any local sentence-transformers model), `minilm-numpy`, `minilm-onnx-int8`,
`minilm-static`, or `auto` (`minilm-st` on a GPU, else `minilm`). Long-tail options append to a
spec: `+normalise` (near-duplicate texts encoded once), `+static-queries` (texts only ever searched,
never a product's, through the static model, mapped into the full model's space; catalogue texts
keep the full model's vectors) and, with it, `+static-tail` (only the queries typed by one
customer).

## JSON documents

`--json` prints one document. These keys are always there, and more keys may appear.

- `run`: `run_id`, `workspace`, `users`, `events_in`, `events_ok`, `events_rejected`
  (`events_in = events_ok + events_rejected`), `segments`, `noise_share`, `as_of`, `seconds`
  (`{stage: s}`), `reject_reasons` (`{reason: rows}`), `files`, `users_file`, `embedding`, `mode`,
  `engine`, `appended_to`.
- `segments`: `segments` (`[{id, name, description, size, share, kind, status, namer,
  namer_reason, key_traits, suggested_actions, facts, top_terms}]`, Unassigned (id `0`) last) and
  `run` (the segment step's facts).
- `ask`: `question`, `understood`, `answer`, `definition`, `query` (the QuerySpec), `kind`
  (`customers`, `number` or `table`), `count` (customers selected), `sample` (`[{user_id,
  recency_days, orders, revenue, why}]`, customers kind), `export`, `parser` (`builtin`,
  `llm:SPEC` or `builtin (fallback: reason)`), `paraphrases`, `notes` (readings the user should
  know about); `matched_products` (`[{product_id, text, customers, phrase}]`) when a product
  condition was used; a number adds `value` (float), `measure`, `customers`; a table adds
  `group_by` (an attribute, `segment`, a period, a first-order cohort, `product` or `term`),
  `measure`, `rows` (`[{group, value, customers}]`, in the order asked). `--export` of a
  number or table writes its rows. A question that is not understood gives `understood: false`
  and exit code 3.
- `audience save|list|show`: `name`, `source`, `question`, `query`, `created_at`, `created_run`,
  `size`, `definition`, `moves_with_as_of`; `save` adds `notes` and, from `--from-export`,
  `exported` (the file's recorded definition); `show` adds `sample` and `history` (`[{target,
  run_id, as_of, size, revenue_share, entered, left}]`); `list` gives `audiences` with `sizes` per
  run (`[{run_id, as_of, size, entered, left}]`).
- `audience diff`: `audience`, `since` and `now` (`{run_id, as_of}`), `entered_count`,
  `left_count`, `entered` and `left` (`[{user_id, why}]`).
- `history`: `runs` (`[{run_id, as_of, segments: [{id, name, size, revenue_share, entered, left}],
  migrations: [{from, to, customers}], notes}]`) and `audiences` (their history rows).
- `overlap`: `targets` (`[{ref, kind, label, definition, size}]`), `pairs` (`[{a, b, both, only_a,
  only_b, share_of_a, share_of_b, jaccard}]`), `matrix` (Jaccard), `in_all`.
- `compare`: `a` and `b` (size, share of customers, median revenue/orders/recency, `lifecycle`,
  `top_products`), `overlap`, `differs_most` (`[{what, a, b, gap}]`).
- `trend`: `target`, `monthly` (`[{month, customers, orders, revenue}]`), `cohorts` (`[{cohort,
  customers, retained: [share 1..12 months later, null for months after the data]}]`).
- `user`: `user_id`, `features` (`{feature: value}`), `segment` (`{id, name, membership}`), `why`.
- `similar`: `user_id`, `similar` (`[{user_id, score}]`).
- `assign`: `customers`, `events_in`, `events_rejected`, `segments` (`{name: customers}`),
  `output`, `model` (the stored model's held-out accuracy).
- `evaluate`: `n`, `ari`, `nmi`, `homogeneity`, `completeness`, `v_measure`, `noise_share`,
  `groups`, `segments`.
- `audit`: `attribute`, `known`, `population` (`{value: share}`), `thresholds` (`[0.8, 1.25]`),
  `segments` (`[{id, name, size, known, shares, ratios, flags}]`). Shares are over customers
  whose attribute is known; `ratio = share in segment / share in population`, flagged below 0.8
  or above 1.25.
- `recommend`: `segment` (`{id, name, size}`), `user_id`, `items` (`[{product_id, text, score,
  buyers_share, lift, buyers, population_share}]`), `min_buyers_share`.
- `brief`: `segment` (`{id, name, size}`), `goal`, `audience`, `offer`, `channel`, `message`,
  `writer`, `writer_reason`, `products`, `verified`.

## REST API

`segmint serve` answers with the same documents (the OpenAPI schema is at `/openapi.json`):
`GET /api/segments`, `GET /api/segments/{id}`, `POST /api/ask` (`{"question", "context"}`, where
`context` is the previous answer's `query`, for follow-ups),
`GET /api/export?segment=ID|question=Q|query=JSON&format=csv|parquet|jsonl`, `GET /api/users/{id}`,
`GET /api/similar/{id}?k=N`, `GET /api/recommend?segment=ID|user=ID`, `GET /api/brief?segment=ID`,
`GET /api/audit?attribute=NAME[&question=Q]`, `GET|POST /api/audiences`,
`GET|DELETE /api/audiences/{name}`, `GET /api/audiences/{name}/diff`, `.../diff/export`,
`.../export`, `GET /api/history`, `GET /api/overlap`, `GET /api/compare`, `GET /api/trend`, and
`/api/summary`, `/api/map` and `/api/charts`
for the page. Errors are JSON `{"status", "detail"}`: 400 bad input or a question not
understood, 401 a missing or wrong token, 404 an unknown segment or customer. With a token
(`--token` or `SEGMINT_TOKEN`) every `/api/` call needs `Authorization: Bearer TOKEN`. Binding to
anything but loopback without a token is refused (exit 2). The page at `/` loads nothing from
the internet.
"""


def walk(command: Command, path: tuple[str, ...] = (PROG,)
         ) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every visible command under `command`, depth first, subcommands by name.

    Yields:
        The words that call it (`("segmint", "run")`) and the command.
    """
    yield path, command
    if isinstance(command, TyperGroup):
        ctx = typer.Context(command, info_name=path[-1])
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if isinstance(sub, Command) and not sub.hidden:
                yield from walk(sub, (*path, name))


def render(root: Command | None = None) -> str:
    """The whole reference as Markdown (the segmint app unless `root` is given)."""
    root = root or _root()
    commands = [(path, cmd) for path, cmd in walk(root) if not isinstance(cmd, TyperGroup)]
    parts = [_HEADER, _summary(root), _CONTRACT, "## Commands\n", _index(commands)]
    parts += [_command(path, cmd) for path, cmd in commands]
    parts.append(_CONTRACT_TAIL)
    return "\n".join(parts).rstrip("\n") + "\n"


def _root() -> Command:
    root = typer.main.get_command(app)
    assert isinstance(root, Command), type(root)  # typer builds a group for an app of commands
    return root


def _summary(root: Command) -> str:
    ctx = typer.Context(root, info_name=PROG)
    return "\n".join([_help(root), "", "```", _usage(root, ctx), "```", "", *_params(root, ctx)])


def _index(commands: Sequence[tuple[tuple[str, ...], Command]]) -> str:
    rows = ["| command | what it does |", "|---|---|"]
    for path, cmd in commands:
        name = " ".join(path)
        rows.append(f"| [`{name}`](#{_anchor(name)}) | {_cell(cmd.get_short_help_str(limit=10_000))} |")
    return "\n".join(rows) + "\n"


def _command(path: tuple[str, ...], cmd: Command) -> str:
    ctx = typer.Context(cmd, info_name=" ".join(path))
    lines = [f"## {' '.join(path)}\n", _help(cmd), "", "```", _usage(cmd, ctx), "```", ""]
    return "\n".join(lines + _params(cmd, ctx))


def _params(cmd: Command, ctx: typer.Context) -> list[str]:
    params = [p for p in cmd.get_params(ctx)
              if isinstance(p, Param) and not p.hidden and p.name != "help"]
    if not params:
        return []
    header = ["| argument / option | value | default | description |", "|---|---|---|---|"]
    return [*header, *(_param_row(p, ctx) for p in params), ""]


def _usage(cmd: Command, ctx: typer.Context) -> str:
    return " ".join([ctx.info_name or PROG, *cmd.collect_usage_pieces(ctx)])


def _help(cmd: Command) -> str:
    # Click's `\b` marks a paragraph it must not rewrap; it is not text.
    text = inspect.cleandoc(cmd.help or "").replace("\b\n", "")
    return text.strip()


def _param_row(param: Param, ctx: typer.Context) -> str:
    if isinstance(param, TyperOption):
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        if param.required:
            names += " (required)"
    else:
        names = f"`{param.display_name_raw.upper()}`" + ("" if param.required else " (optional)")
    flag = isinstance(param, TyperOption) and param.is_flag
    value = "" if flag else _value(param, ctx)
    return f"| {names} | {_cell(value)} | {_cell(_default(param))} | {_cell(_param_help(param))} |"


def _value(param: Param, ctx: typer.Context) -> str:
    # The type as `--help` shows it (<Path>, <int range>, a|b|c), with the range's bounds.
    text = param.display_type(ctx).strip("<>")
    bounds = [f"{sign} {bound}" for sign, bound in (("≥", param.min), ("≤", param.max))
              if bound is not None]
    if bounds:
        text = text.removesuffix(" range") + " " + ", ".join(bounds)
    if param.multiple:
        text += ", repeatable"
    return text


def _default(param: Param) -> str:
    default = param.default
    if callable(default) or default is None or default is False or default in ((), []):
        return ""
    return f"`{default.value if isinstance(default, Enum) else default}`"


def _param_help(param: Param) -> str:
    text = " ".join((param.help or "").split())
    envvar = param.envvar
    if envvar:
        names = [envvar] if isinstance(envvar, str) else list(envvar)
        text += " (env: " + ", ".join(f"`{n}`" for n in names) + ")"
    return text.strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _anchor(heading: str) -> str:
    # GitHub's heading anchors: lower case, spaces to hyphens, punctuation dropped.
    return "".join(ch for ch in heading.lower().replace(" ", "-") if ch.isalnum() or ch in "-_")


def main(argv: list[str] | None = None) -> None:
    """Print the reference, or write it with `--write [FILE]`."""
    parser = argparse.ArgumentParser(prog="python -m segmint.agent.cli.reference",
                                     description="Render the segmint CLI reference (docs/cli.md).")
    parser.add_argument("--write", nargs="?", const=DEFAULT_PATH, type=Path, metavar="FILE",
                        help=f"write the reference to FILE (default {DEFAULT_PATH})")
    args = parser.parse_args(argv)
    text = render()
    if args.write is None:
        sys.stdout.write(text)
        return
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {args.write}\n")


if __name__ == "__main__":
    main()
