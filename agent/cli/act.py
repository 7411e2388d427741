"""Commands that act on segments (recommend, brief, audit), registered on the main CLI app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segmint.agent.cli._app import JsonOpt, LlmOpt, WorkspaceOpt, app, emit_json
from segmint.agent.cli._out import escape, out
from segmint.agent.core.errors import UsageError
from segmint.agent.core.workspace import Workspace


@app.command()
def recommend(
    segment: Annotated[str | None, typer.Option(help="Segment id or name.")] = None,
    user: Annotated[str | None, typer.Option(help="A customer id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="How many products.")] = 10,
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    json_out: JsonOpt = False,
) -> None:
    """Products to promote: what sells unusually well in a segment, or, for a customer, products
    tied to what they bought (their segment's when they are typical of it)."""
    from segmint.agent.act.recommend import recommend_segment, recommend_user

    if (segment is None) == (user is None):
        raise UsageError("give exactly one of --segment ID|NAME or --user ID")
    ws = Workspace(workspace)
    doc = (recommend_segment(ws, segment, limit=limit) if segment is not None
           else recommend_user(ws, str(user), limit=limit))
    if json_out:
        emit_json(doc)
        return
    seg = doc["segment"]
    if doc["user_id"]:
        out.print(f"[bold]Products to suggest to customer {escape(doc['user_id'])}[/bold] "
                  f"(segment {seg['id']} “{escape(seg['name'])}”)")
        out.print(f"  [dim]{escape(doc['note'])}[/dim]")
    else:
        out.print(f"[bold]Products to promote to segment {seg['id']} “{escape(seg['name'])}”[/bold] "
                  f"({seg['size']:,} customers)")
        out.print(f"  [dim]next step: {escape(doc['plan']['action'])}[/dim]")
    if not doc["items"]:
        out.print(f"  none: {escape(str(doc.get('reason') or doc.get('note')))}")
    own = doc.get("basis") == "own history"
    if own and doc["items"]:
        out.print("  [dim]share: of the customers who bought the product after ←, how many bought "
                  "this one[/dim]")
    for item in doc["items"]:
        because = f"  [dim]← {escape(str(item['because']))}[/dim]" if item.get("because") else ""
        out.print(f"  {item['buyers_share'] * 100:5.1f}% {'also' if own else 'bought'}  "
                  f"×{item['lift']:<5.1f} {escape(item['product_id'] or ''):<10} "
                  f"{escape(item['text'] or '')}{because}")


AUDIT_WIDTH = 100  # the table fits a 100-column terminal
AUDIT_LABEL = 30


@app.command()
def audit(
    attribute: Annotated[str, typer.Option(help="A customer attribute: age_band, gender, region...")],
    question: Annotated[str | None, typer.Option(
        help="Audit the customers a question selects (what its export would hold).")] = None,
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    json_out: JsonOpt = False,
) -> None:
    """How each value of an attribute is represented in each segment against the whole shop
    (flags ratios outside 0.8–1.25, the four-fifths rule)."""
    from segmint.agent.act.audit import audit as run_audit

    doc = run_audit(Workspace(workspace), attribute, question=question)
    if json_out:
        emit_json(doc)
        return
    values, width = _audit_columns(list(doc["shown_population"]))
    hidden = [v for v in doc["shown_population"] if v not in values]
    out.print(f"[bold]{doc['attribute']}[/bold]: share in the group ÷ share of all customers "
              f"(flagged outside 0.8–1.25)")
    out.print(" " * AUDIT_LABEL + "".join(f"{v[:width - 1]:>{width}}" for v in values))
    out.print(f"{'all customers (share)':<{AUDIT_LABEL}}"
              + "".join(f"{doc['shown_population'][v] * 100:>{width - 1}.1f}%" for v in values))
    groups = [s for s in doc["segments"] if s["known"]] if question is None else [
        {"id": "", "name": f"“{question}” ({doc['customers']:,})", **doc}]
    for seg in groups:
        label = escape(f"{seg['id']:>3} {seg['name']}"[:AUDIT_LABEL - 1])
        ratios = seg["shown_ratios"]
        cells = "".join(
            (f"[red]{ratios[v]:>{width}.2f}[/red]" if v in seg["shown_flags"] else f"{ratios[v]:>{width}.2f}")
            if v in ratios else f"{'–':>{width}}" for v in values)
        out.print(f"{label:<{AUDIT_LABEL}}{cells}")
        strongest = [f"{v} ×{ratios[v]:.2f}" for v in seg["shown_flags"][:3]]
        if strongest and question is None:
            out.print(f"{'':<{AUDIT_LABEL}}[dim]flags: {', '.join(strongest)}[/dim]")
    flagged = sum(1 for s in groups if s["shown_flags"])
    pooled = len(doc["pooled"])
    notes = [f"{flagged} of {len(groups)} groups have a shown value outside 0.8–1.25"]
    if pooled:
        notes.append(f"{pooled} value{'s' if pooled != 1 else ''} held by under 1% of customers "
                     f"or by fewer than 20 are pooled as “other”")
    if hidden:
        notes.append(f"{', '.join(hidden)} left out to fit {AUDIT_WIDTH} columns (see --json)")
    for note in notes:
        out.print(f"[dim]{note}[/dim]")


def _audit_columns(values: list[str]) -> tuple[list[str], int]:
    """The value columns that fit AUDIT_WIDTH (largest values first; "other" kept last)."""
    from segmint.agent.act.audit import OTHER

    width = max(8, min(16, max((len(v) + 2 for v in values), default=8)))
    room = (AUDIT_WIDTH - AUDIT_LABEL) // width
    if len(values) <= room:
        return values, width
    keep = values[:room - 1] + ([values[-1]] if values[-1] == OTHER else values[room - 1:room])
    return keep, width


@app.command()
def brief(
    segment: Annotated[str, typer.Option(help="Segment id or name.")],
    llm: LlmOpt = None,
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    json_out: JsonOpt = False,
) -> None:
    """A campaign brief for a segment: goal, audience, offer, channel and message, from verified
    facts."""
    from segmint.agent.act.brief import campaign_brief

    doc = campaign_brief(Workspace(workspace), segment, llm=llm)
    if json_out:
        emit_json(doc)
        return
    out.print(f"[bold]Campaign brief: {escape(doc['segment']['name'])}[/bold]  "
              f"[dim]({doc['segment']['size']:,} customers, written by {doc['writer']})[/dim]")
    for part in ("goal", "audience", "offer", "channel", "message"):
        out.print(f"  [bold]{part:<9}[/bold]{escape(doc[part])}")
    if doc["writer_reason"]:
        out.print(f"[dim]LLM not used: {escape(doc['writer_reason'])}[/dim]")
