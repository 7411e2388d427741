"""The `segmint` command line: a thin layer over the library (docs/cli.md).

Each command imports the part of the library it drives when it runs, so `segmint --help` and the
read commands never load the pipeline (bench/RESULTS.md "Cold start").
"""

from __future__ import annotations

import contextlib
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from segmint.agent.cli._app import (
    ExcludeOpt,
    JsonOpt,
    LlmOpt,
    StageDisplay,
    WorkspaceOpt,
    app,
    emit_json,
)
from segmint.agent.cli._out import err, escape, out
from segmint.agent.core.errors import InputError, NotUnderstood, SegmintError, UsageError
from segmint.agent.core.workspace import Workspace

if TYPE_CHECKING:
    from rich.table import Table

    from segmint.agent.ask.answer import Answer, Answerer, Selection
    from segmint.agent.run.pipeline import RunResult
    from segmint.data.synth import SynthResult

MkdirOpt = Annotated[bool, typer.Option("--mkdir", help="Create the file's folder if it is missing.")]


@app.command()
def run(
    events: Annotated[list[Path], typer.Argument(help="Event files: CSV, CSV.gz, Parquet, JSONL.")],
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    users: Annotated[Path | None, typer.Option(help="Per-user table to join.")] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="CANON=SOURCE column mapping.")
    ] = None,
    attr: Annotated[list[str] | None, typer.Option(help="NAME=SOURCE per-user attribute.")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file with the same settings.")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="Text encoding of CSV/JSONL files: utf-8, latin-1 or utf-16 (default: utf-8, "
             "UTF-16 detected by its byte-order mark).")] = None,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", help="Reference date (default: last event).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    currency: Annotated[str | None, typer.Option(help="Currency symbol for answers, e.g. £.")] = None,
    embedder: Annotated[
        str | None, typer.Option(help="Text encoder: minilm, st:NAME_OR_PATH, minilm-onnx-int8, ...")
    ] = None,
    segments_k: Annotated[
        int | None, typer.Option("--segments", min=1, help="Exact number of segments (k-means).")
    ] = None,
    min_segment_size: Annotated[
        int | None, typer.Option("--min-segment-size", min=2, help="Smallest segment.")
    ] = None,
    llm: LlmOpt = None,
    reducer: Annotated[str | None, typer.Option(
        help="Space HDBSCAN clusters in: spectral (default), pca, none or autoencoder.")] = None,
    engine: Annotated[
        str, typer.Option(help="Where embedding, pooling and assignment run: local or ray.")
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster to join (default: start one here).")
    ] = None,
    append: Annotated[
        bool, typer.Option("--append", help="Add these events to the workspace's (incremental run).")
    ] = False,
    refit: Annotated[
        bool, typer.Option("--refit", help="With --append: fit the segments again.")
    ] = False,
    ltv: Annotated[bool, typer.Option(
        "--ltv", help="Also fit lifetime value and churn (BG/NBD, Gamma-Gamma; segmint[ltv]).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Ingest events, compute customer features and build segments."""
    from segmint.agent.core.config import load_config, parse_pairs
    from segmint.agent.run.pipeline import run as run_pipeline

    cfg = load_config(
        config,
        column_map=parse_pairs(map_ or [], "--map"),
        attributes=parse_pairs(attr or [], "--attr"),
        users=users,
        encoding=encoding,
        as_of=as_of,
        seed=seed,
        currency=currency,
        embedder=embedder,
        segments=segments_k,
        min_segment_size=min_segment_size,
        llm=llm,
        reducer=reducer,
        ltv=ltv or None,
    )
    with StageDisplay(quiet=json_out) as display:
        result = run_pipeline(Workspace(workspace), list(events), cfg, progress=display,
                              engine=engine, ray_address=ray_address, append=append, refit=refit)
    if json_out:
        emit_json(result.to_json())
    else:
        _print_run(result)


def _print_run(result: RunResult) -> None:
    out.print(
        f"[bold]{result.users:,}[/bold] customers from {result.events_ok:,} events "
        f"({result.events_in:,} read, {result.events_rejected:,} rejected) "
        f"as of {result.as_of:%Y-%m-%d %H:%M} → {result.workspace}"
    )
    for reason, n in list(result.reject_reasons.items())[:5]:
        out.print(f"  rejected {n:,} × {reason}")
    if result.segments is not None:
        out.print(f"{result.segments} segments, {(result.noise_share or 0) * 100:.1f}% unassigned — "
                  f"see them with: segmint segments -w {result.workspace}")
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    out.print(f"[dim]{stages}[/dim]")


@app.command()
def segments(
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    json_out: JsonOpt = False,
) -> None:
    """All segments with names, descriptions and facts."""
    from segmint.agent.describe.step import segments_document

    with contextlib.closing(Workspace(workspace).connect()) as con:
        doc = segments_document(con)
    if json_out:
        emit_json(doc)
        return
    for seg in doc["segments"]:
        out.print(f"[bold]{seg['id']:>3}  {seg['name']}[/bold]  [dim]{seg['size']:,} customers, "
                  f"{seg['share'] * 100:.1f}%[/dim]")
        out.print(f"     {seg['description']}")
        if seg["top_terms"]:
            out.print(f"     [dim]terms: {', '.join(seg['top_terms'][:8])}[/dim]")
    run_facts = doc["run"]
    out.print(f"[dim]{run_facts.get('segments')} segments, "
              f"{run_facts.get('noise_share', 0) * 100:.1f}% unassigned[/dim]")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain words.")],
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    export: Annotated[Path | None, typer.Option(
        help="Also write the answer to FILE: its customers, or a number's or table's rows.")] = None,
    mkdir: MkdirOpt = False,
    exclude_: ExcludeOpt = None,
    llm: LlmOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Answer a question about your customers; shows the exact definition used."""
    from segmint.agent.ask.answer import Answerer

    ws = Workspace(workspace)
    answerer = Answerer(ws, llm=llm)
    try:
        if export is None and not exclude_:
            answer = answerer.ask(question)
        else:
            from segmint.agent.act.export import export_selection

            selection = answerer.select(question)
            if exclude_:
                selection = _suppressed(answerer, selection, exclude_)
            answer = (selection.answer if export is None
                      else export_selection(ws, selection, export, mkdir=mkdir,
                                            excluded=exclude_ or []))
    except NotUnderstood as exc:
        if not json_out:
            raise
        emit_json({"question": question, "understood": False, "answer": str(exc),
                    "definition": None, "query": None, "kind": None, "count": 0, "sample": [],
                    "export": None})
        sys.exit(exc.exit_code)
    if json_out:
        emit_json(answer.to_json())
        return
    out.print(f"[bold]{escape(answer.answer)}[/bold]")
    if answer.kind == "table":
        out.print(_answer_table(answer))
    shown = answer.sample if answer.kind == "customers" else []
    for row in shown:
        out.print(f"  {row['user_id']:<12} {escape(row['why'])}")
    if shown and answer.count > len(shown):
        out.print(f"  … and {answer.count - len(shown):,} more")
    if answer.export:
        out.print(f"[dim]exported to {answer.export}[/dim]")


def _suppressed(answerer: Answerer, selection: Selection, audiences: list[str]) -> Selection:
    """A customer list without the members of saved audiences (`--exclude`)."""
    from segmint.agent.audience import exclude

    if selection.answer.kind != "customers":
        raise UsageError("--exclude applies to lists of customers, not to numbers or tables")
    return exclude(answerer, selection, audiences)


def _answer_table(answer: Answer) -> Table:
    """A table answer's rows, readable in a terminal."""
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    table.add_column(str(answer.group_by).replace("_", " "))
    table.add_column(str(answer.measure), justify="right")
    agg = answer.query.get("measure", {}).get("agg")
    # A count of customers is its own customers column: shown once.
    if agg != "count":
        table.add_column("customers", justify="right")
    for row in answer.rows:
        value = row["value"]
        shown = "–" if value is None else f"{value * 100:.1f}%" if agg == "share" else f"{value:,.2f}"
        cells = [escape(str(row["group"])), shown.removesuffix(".00")]
        table.add_row(*cells, *([] if agg == "count" else [f"{row['customers']:,}"]))
    return table


@app.command()
def chat(workspace: WorkspaceOpt = Path("segmint-workspace"), llm: LlmOpt = None) -> None:
    """Ask questions in a loop; follow-ups ("of those, who is in Germany?") refine the last answer."""
    from segmint.agent.ask.answer import Answerer
    from segmint.agent.ask.conversation import Conversation

    conv = Conversation(Answerer(Workspace(workspace), llm=llm))
    err.print("Ask about your customers (empty line or Ctrl-D to quit, 'reset' to start over).")
    for line in sys.stdin:
        question = line.strip()
        if not question:
            break
        if question.lower() == "reset":
            conv.reset()
            continue
        try:
            answer = conv.ask(question)
        except SegmintError as exc:
            out.print(f"[yellow]{exc}[/yellow]")
            continue
        out.print(f"[bold]{answer.answer}[/bold]")
        for row in answer.sample[:5]:
            out.print(f"  {row['user_id']:<12} {row['why']}")


@app.command()
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    question: Annotated[str | None, typer.Option(help="Export the customers a question selects.")] = None,
    segment: Annotated[str | None, typer.Option(help="Export a segment (id or name).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl.")] = None,
    hash_ids: Annotated[bool, typer.Option("--hash-ids", help="Salted SHA-256 ids.")] = False,
    mkdir: MkdirOpt = False,
    exclude_: ExcludeOpt = None,
    workspace: WorkspaceOpt = Path("segmint-workspace"),
) -> None:
    """Write a customer list (one row per customer, with a reason) for a campaign; a question
    asking for a number or a table writes its rows."""
    from segmint.agent.act.export import export_selection
    from segmint.agent.ask.answer import Answerer

    if (question is None) == (segment is None):
        raise UsageError("give exactly one of --segment ID|NAME or --question Q")
    ws = Workspace(workspace)
    answerer = Answerer(ws)
    selection = (answerer.select_segment(segment) if segment is not None
                 else answerer.select(str(question)))
    if exclude_:
        selection = _suppressed(answerer, selection, exclude_)
    answer = export_selection(ws, selection, output, fmt=fmt, hash_ids=hash_ids, mkdir=mkdir,
                              excluded=exclude_ or [])
    written = (f"{answer.count:,} customers" if answer.kind == "customers" else
               f"{len(selection.rows):,} row{'s' if len(selection.rows) != 1 else ''} ({answer.measure})")
    err.print(f"wrote {written} to {output}")


@app.command()
def user(
    user_id: Annotated[str, typer.Argument(help="The customer's id.")],
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    json_out: JsonOpt = False,
) -> None:
    """Show one customer: features, segment and why."""
    from segmint.agent.act.customers import get_user

    doc = get_user(Workspace(workspace), user_id)
    if json_out:
        emit_json(doc)
        return
    out.print(f"[bold]{doc['user_id']}[/bold] — {doc['why']}")
    for key, value in doc["features"].items():
        if value is not None:
            out.print(f"  {key:<16} {value}")


@app.command()
def similar(
    user_id: Annotated[str, typer.Argument(help="The customer's id.")],
    k: Annotated[int, typer.Option("--k", min=1, max=1000, help="How many lookalikes.")] = 10,
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    json_out: JsonOpt = False,
) -> None:
    """Customers whose search, browse and purchase histories are closest (lookalikes)."""
    from segmint.agent.act.customers import similar_customers

    doc = similar_customers(Workspace(workspace), user_id, k)
    if json_out:
        emit_json(doc)
        return
    out.print(f"customers most like [bold]{doc['user_id']}[/bold]:")
    for row in doc["similar"]:
        out.print(f"  {row['user_id']:<12} {row['score']:.3f}")


@app.command("assign")
def assign_cmd(
    events: Annotated[list[Path], typer.Argument(help="Events of the new customers.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write.")],
    mkdir: MkdirOpt = False,
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    json_out: JsonOpt = False,
) -> None:
    """Put new customers into the existing segments without refitting."""
    from segmint.agent.act.export import prepare_output
    from segmint.agent.run.newcomers import assign_newcomers

    prepare_output(output, mkdir=mkdir, formats=("csv",))  # before the embedding work
    doc = assign_newcomers(Workspace(workspace), list(events), output)
    segment_run = Workspace(workspace).segment_run()
    doc["model"] = None if segment_run is None else segment_run.newcomer_model
    if json_out:
        emit_json(doc)
        return
    out.print(f"{doc['customers']:,} customers placed → {output}")
    for name, n in sorted(doc["segments"].items(), key=lambda kv: -kv[1]):
        out.print(f"  {n:>6,}  {name}")
    if doc["model"]:
        out.print(f"[dim]model held-out accuracy {doc['model'].get('accuracy')}, "
                  f"macro recall {doc['model'].get('macro_recall')}[/dim]")


@app.command()
def evaluate(
    labels: Annotated[Path, typer.Option(help="CSV with user_id,label: known groups.")],
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    ignore_label: Annotated[list[str] | None, typer.Option(
        "--ignore-label", help="A label that is not a group (e.g. mixed); repeatable.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Agreement of the segments with known groups (ARI, NMI, ...)."""
    from segmint.agent.segment.evaluate import evaluate_labels_file

    with contextlib.closing(Workspace(workspace).connect()) as con:
        doc = evaluate_labels_file(con, labels, ignore_label or ())
    if json_out:
        emit_json(doc)
        return
    for key, value in doc.items():
        if not isinstance(value, dict | list):
            out.print(f"  {key:<14} {value}")


@app.command()
def synth(
    users: Annotated[int, typer.Option("--users", min=1, help="Number of customers.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Events file to write.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    catalogue: Annotated[str, typer.Option(
        help="default (the personas' ~1,300 titles and queries) or long-tail (about 0.3 products "
             "per customer, Zipf popularity, nearly every search query unique).")] = "default",
) -> None:
    """Generate the sample shop (events + FILE.labels.csv + FILE.users.csv)."""
    from segmint.data.synth import generate

    try:
        result = generate(users, output, seed=seed, catalogue=catalogue)
    except ValueError as exc:
        if str(exc).startswith("unknown catalogue"):
            raise InputError(str(exc), field="--catalogue", kind="option",
                             fix="see segmint synth --help") from exc
        raise InputError(str(exc), file=output, fix="see segmint synth --help") from exc
    err.print(f"wrote {result.n_events:,} events of {result.n_users:,} customers to {output}")


def _generate(users: int, output: Path, seed: int) -> SynthResult:
    from segmint.data.synth import generate

    try:
        return generate(users, output, seed=seed)
    except ValueError as exc:
        raise InputError(str(exc), file=output, fix="see segmint synth --help") from exc


DEMO_QUESTION = "who are my lapsed high spenders?"


@app.command()
def demo(workspace: WorkspaceOpt = Path("demo-workspace")) -> None:
    """Generate the sample shop, run everything on it and answer a question."""
    from segmint.agent.ask.answer import Answerer
    from segmint.agent.core.config import load_config
    from segmint.agent.describe.step import segments_document
    from segmint.agent.run.pipeline import run as run_pipeline

    workspace.mkdir(parents=True, exist_ok=True)
    events = workspace / "sample-shop.parquet"
    err.print("generating the sample shop (2,000 customers)…")
    shop = _generate(2000, events, 0)
    cfg = load_config(None, users=shop.users_path, currency="£")
    with StageDisplay(quiet=False) as display:
        result = run_pipeline(Workspace(workspace), [events], cfg, progress=display)
    _print_run(result)
    with contextlib.closing(Workspace(workspace).connect()) as con:
        doc = segments_document(con)
    out.print("")
    for seg in doc["segments"][:6]:
        out.print(f"[bold]{seg['id']:>3}  {seg['name']}[/bold]  [dim]{seg['size']:,} customers[/dim]")
        out.print(f"     {seg['description']}")
    out.print(f"     … {len(doc['segments']) - 6} more: segmint segments -w {workspace}")
    out.print(f"\n[bold]? {DEMO_QUESTION}[/bold]")
    answer = Answerer(Workspace(workspace)).ask(DEMO_QUESTION)
    out.print(answer.answer)
    for row in answer.sample[:5]:
        out.print(f"  {row['user_id']:<10} {row['why']}")
    out.print(f"\n[dim]planted personas: {shop.labels_path}; try: segmint ask \"top 10 customers by "
              f"revenue\" -w {workspace}[/dim]")
