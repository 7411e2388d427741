"""Audiences over time on the command line: `audience save|list|show|export|diff|delete`, and
`history`, `overlap`, `compare`, `trend` (docs/cli.md). A thin layer over agent/audience; each
command imports the library it drives when it runs (bench/RESULTS.md "Cold start").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from segmint.agent.cli._app import ExcludeOpt, JsonOpt, LlmOpt, WorkspaceOpt, app, emit_json
from segmint.agent.cli._out import err, out
from segmint.agent.core.errors import UsageError
from segmint.agent.core.workspace import Workspace

audience_app = typer.Typer(help="Saved audiences: definitions re-evaluated at every run.",
                           no_args_is_help=True)
app.add_typer(audience_app, name="audience")

DEFAULT_WS = Path("segmint-workspace")



@audience_app.command("save")
def save(
    name: Annotated[str, typer.Argument(help="The audience's name.")],
    question: Annotated[str | None, typer.Option(help="Define it by a question.")] = None,
    segment: Annotated[str | None, typer.Option(help="Define it as a segment (id or name).")] = None,
    from_export: Annotated[Path | None, typer.Option(
        "--from-export", help="Define it as a segmint export was made (its definition, not its rows)."
    )] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a saved audience.")] = False,
    llm: LlmOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WS,
    json_out: JsonOpt = False,
) -> None:
    """Save an audience: its typed definition, not its member list; every run re-evaluates it."""
    from segmint.agent.act.export import read_definition
    from segmint.agent.ask.answer import Answerer
    from segmint.agent.audience import save_audience

    exported = read_definition(from_export) if from_export is not None else None
    doc = save_audience(Answerer(Workspace(workspace), llm=llm), name, question=question,
                        segment=segment, exported=exported, replace=replace)
    if json_out:
        emit_json(doc)
        return
    out.print(f"saved audience [bold]{doc['name']}[/bold]: {doc['size']:,} customers now — "
              f"{doc['definition']}")
    if doc["moves_with_as_of"]:
        out.print("  its time window is relative: it moves with each run's as_of")
    for note in doc["notes"]:
        out.print(f"  note: {note}")


@audience_app.command("list")
def list_cmd(workspace: WorkspaceOpt = DEFAULT_WS, json_out: JsonOpt = False) -> None:
    """Every saved audience with its size at each recorded run."""
    from segmint.agent.ask.answer import Answerer
    from segmint.agent.audience import list_audiences

    doc = list_audiences(Answerer(Workspace(workspace)))
    if json_out:
        emit_json(doc)
        return
    if not doc["audiences"]:
        out.print("no audiences saved yet — save one with: segmint audience save NAME --question Q")
    for d in doc["audiences"]:
        sizes = " → ".join(f"{s['size']:,}" for s in d["sizes"][-6:])
        out.print(f"  [bold]{d['name']}[/bold]  {sizes}  ({d['question']})")


@audience_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The audience's name.")],
    workspace: WorkspaceOpt = DEFAULT_WS,
    json_out: JsonOpt = False,
) -> None:
    """One audience: its definition as it reads now (with the actual dates) and its history."""
    from segmint.agent.ask.answer import Answerer
    from segmint.agent.audience import show_audience

    doc = show_audience(Answerer(Workspace(workspace)), name)
    if json_out:
        emit_json(doc)
        return
    out.print(f"[bold]{doc['name']}[/bold]: {doc['size']:,} customers — {doc['definition']}")
    if doc["moves_with_as_of"]:
        out.print("  its time window is relative: it moves with each run's as_of")
    for r in doc["history"]:
        out.print(f"  {r['as_of'][:10]}  {r['size']:>8,}  +{r['entered']:,} −{r['left']:,}  "
                  f"revenue share {r['revenue_share']:.1%}  (run {r['run_id']})")


@audience_app.command("export")
def export_audience(
    name: Annotated[str, typer.Argument(help="The audience's name.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl.")] = None,
    hash_ids: Annotated[bool, typer.Option("--hash-ids", help="Salted SHA-256 ids.")] = False,
    mkdir: Annotated[bool, typer.Option("--mkdir", help="Create a missing folder.")] = False,
    exclude_: ExcludeOpt = None,
    workspace: WorkspaceOpt = DEFAULT_WS,
) -> None:
    """Write an audience's current members (one row per customer, with a reason)."""
    from segmint.agent.act.export import export_selection, prepare_output
    from segmint.agent.ask.answer import Answerer
    from segmint.agent.audience import AudienceStore, evaluate, exclude

    prepare_output(output, fmt, mkdir=mkdir)
    ws = Workspace(workspace)
    answerer = Answerer(ws)
    audience = AudienceStore(ws).get(name)
    selection = exclude(answerer, evaluate(answerer, audience), exclude_ or [])
    answer = export_selection(ws, selection, output, fmt=fmt, hash_ids=hash_ids, mkdir=mkdir,
                              audience=audience.name, excluded=exclude_ or [])
    err.print(f"wrote {answer.count:,} customers to {output}")


@audience_app.command("diff")
def diff_audience(
    name: Annotated[str, typer.Argument(help="The audience's name.")],
    since: Annotated[str | None, typer.Option(
        help="A run id or a date (YYYY-MM-DD); the previous run by default.")] = None,
    export: Annotated[Path | None, typer.Option(
        help="Write who entered and left to this file (each `why` starts 'entered:' or 'left:').")
    ] = None,
    workspace: WorkspaceOpt = DEFAULT_WS,
    json_out: JsonOpt = False,
) -> None:
    """Who entered and who left an audience since an earlier run, with the reason for each."""
    from segmint.agent.act.export import export_diff, prepare_output
    from segmint.agent.audience import diff

    fmt = prepare_output(export) if export is not None else "csv"
    ws = Workspace(workspace)
    result = diff(ws, name, since)
    doc = result.to_json()
    if export is not None:
        export_diff(ws, result, export, fmt)
        doc["export"] = str(export)
    if json_out:
        emit_json(doc)
        return
    out.print(f"[bold]{result.audience.name}[/bold] since {result.since['as_of'][:10]} "
              f"(run {result.since['run_id']}): {len(result.entered):,} entered, "
              f"{len(result.left):,} left")
    for label, rows in (("entered", result.entered), ("left", result.left)):
        for r in rows[:10]:
            out.print(f"  {label:<8} {r['user_id']:<12} {r['why']}")
        if len(rows) > 10:
            out.print(f"  … and {len(rows) - 10:,} more {label}")


@audience_app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="The audience's name.")],
    workspace: WorkspaceOpt = DEFAULT_WS,
) -> None:
    """Delete a saved audience and its history."""
    from segmint.agent.audience import AudienceStore

    audience = AudienceStore(Workspace(workspace)).delete(name)
    err.print(f"deleted audience {audience.name}")


@app.command()
def history(workspace: WorkspaceOpt = DEFAULT_WS, json_out: JsonOpt = False) -> None:
    """Segments and audiences over runs: sizes, revenue shares, migrations and drift notes."""
    from segmint.agent.audience import segment_history

    doc = segment_history(Workspace(workspace))
    if json_out:
        emit_json(doc)
        return
    if not doc["runs"]:
        out.print("no run recorded yet — history starts with the next `segmint run`")
    for run in doc["runs"]:
        out.print(f"[bold]{run['as_of'][:10]}[/bold] (run {run['run_id']}): "
                  f"{len(run['segments'])} segments")
        for note in run["notes"]:
            out.print(f"  [yellow]![/yellow] {note}")
        moved = [m for m in run["migrations"] if m["from"] is not None and m["from"] != m["to"]]
        for m in moved[:5]:
            out.print(f"  {m['customers']:,} moved from segment {m['from']} to {m['to']}")


@app.command("overlap")
def overlap_cmd(
    targets: Annotated[list[str], typer.Argument(
        help="Two or more: saved audiences, segment ids or names, or questions.")],
    workspace: WorkspaceOpt = DEFAULT_WS,
    json_out: JsonOpt = False,
) -> None:
    """How much segments, audiences and questions overlap: counts, shares and Jaccard."""
    from segmint.agent.ask.answer import Answerer
    from segmint.agent.audience import overlap, resolve

    if len(targets) < 2:
        raise UsageError("give two or more targets: audiences, segments or questions")
    answerer = Answerer(Workspace(workspace))
    doc = overlap([resolve(answerer, t) for t in targets])
    if json_out:
        emit_json(doc)
        return
    for t in doc["targets"]:
        out.print(f"  {t['label']}: {t['size']:,} customers — {t['definition']}")
    for p in doc["pairs"]:
        out.print(f"  [bold]{p['a']}[/bold] ∩ [bold]{p['b']}[/bold]: {p['both']:,} "
                  f"({p['share_of_a']:.0%} of the first, {p['share_of_b']:.0%} of the second), "
                  f"Jaccard {p['jaccard']:.2f}")
    if len(targets) > 2:
        out.print(f"  in all {len(targets)}: {doc['in_all']:,}")


@app.command("compare")
def compare_cmd(
    a: Annotated[str, typer.Argument(help="A segment, saved audience or question.")],
    b: Annotated[str, typer.Argument(help="Another one.")],
    workspace: WorkspaceOpt = DEFAULT_WS,
    json_out: JsonOpt = False,
) -> None:
    """Two segments or audiences side by side, with what differs most."""
    from segmint.agent.ask.answer import Answerer
    from segmint.agent.audience import compare, resolve

    answerer = Answerer(Workspace(workspace))
    doc = compare(answerer, resolve(answerer, a), resolve(answerer, b))
    if json_out:
        emit_json(doc)
        return
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    table.add_column("")
    table.add_column(doc["a"]["label"])
    table.add_column(doc["b"]["label"])
    for key, label in (("size", "customers"), ("share_of_customers", "share of customers"),
                       ("median_revenue", "median revenue"), ("median_orders", "median orders"),
                       ("median_recency_days", "median days since last order")):
        table.add_row(label, _cell(doc["a"][key]), _cell(doc["b"][key]))
    for term in doc["a"]["lifecycle"]:
        table.add_row(term, f"{doc['a']['lifecycle'][term]:.0%}", f"{doc['b']['lifecycle'][term]:.0%}")
    out.print(table)
    out.print("[bold]Differs most[/bold]")
    for g in doc["differs_most"]:
        out.print(f"  {g['what']}: {g['a']:.0%} vs {g['b']:.0%}")


@app.command("trend")
def trend_cmd(
    target: Annotated[str, typer.Argument(help="A segment, saved audience or question.")],
    workspace: WorkspaceOpt = DEFAULT_WS,
    json_out: JsonOpt = False,
) -> None:
    """Monthly customers, orders and revenue of a segment or audience, and cohort retention."""
    from segmint.agent.ask.answer import Answerer
    from segmint.agent.audience import resolve, trend

    answerer = Answerer(Workspace(workspace))
    doc = trend(answerer, resolve(answerer, target))
    if json_out:
        emit_json(doc)
        return
    out.print(f"[bold]{doc['target']['label']}[/bold] ({doc['target']['size']:,} customers)")
    for m in doc["monthly"]:
        out.print(f"  {m['month']}  {m['customers']:>7,} customers  {m['orders']:>7,} orders  "
                  f"revenue {m['revenue']:>12,.2f}")


def _cell(value: Any) -> str:
    if isinstance(value, float) and value < 1 and value > 0:
        return f"{value:.1%}"
    return "—" if value is None else f"{value:,}"
