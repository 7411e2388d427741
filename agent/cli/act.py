"""Commands that act on segments (recommend, brief, audit), registered on the main CLI app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from segmint.agent.act.audit import audit as run_audit
from segmint.agent.act.brief import campaign_brief
from segmint.agent.act.recommend import recommend_segment, recommend_user
from segmint.agent.cli._app import JsonOpt, LlmOpt, WorkspaceOpt, app, emit_json
from segmint.agent.core.errors import UsageError
from segmint.agent.core.workspace import Workspace


def _out() -> Console:
    return Console(soft_wrap=True, highlight=False)


@app.command()
def recommend(
    segment: Annotated[str | None, typer.Option(help="Segment id or name.")] = None,
    user: Annotated[str | None, typer.Option(help="A customer id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="How many products.")] = 10,
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    json_out: JsonOpt = False,
) -> None:
    """Products to promote: what sells unusually well in a segment, or what a customer's segment
    buys that they have not."""
    if (segment is None) == (user is None):
        raise UsageError("give exactly one of --segment ID|NAME or --user ID")
    ws = Workspace(workspace)
    doc = (recommend_segment(ws, segment, limit=limit) if segment is not None
           else recommend_user(ws, str(user), limit=limit))
    if json_out:
        emit_json(doc)
        return
    out = _out()
    seg = doc["segment"]
    who = f"customer {doc['user_id']} (segment “{seg['name']}”)" if doc["user_id"] else \
        f"segment “{seg['name']}” ({seg['size']:,} customers)"
    out.print(f"[bold]Products to promote to {who}[/bold]")
    if not doc["items"]:
        out.print("  no product is bought by enough of the segment (≥ 5%) more than by the shop")
    for item in doc["items"]:
        out.print(f"  {item['buyers_share'] * 100:5.1f}% bought  ×{item['lift']:<6.1f} "
                  f"{item['product_id']:<10} {item['text'] or ''}")



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
    doc = run_audit(Workspace(workspace), attribute, question=question)
    if json_out:
        emit_json(doc)
        return
    out = _out()
    values = list(doc["population"])
    out.print(f"[bold]{doc['attribute']}[/bold]: share in the group ÷ share of all customers "
              f"(flagged outside 0.8–1.25)")
    out.print("  " + " " * 34 + "".join(f"{v[:10]:>11}" for v in values))
    out.print("  " + f"{'all customers (share)':<34}"
              + "".join(f"{doc['population'][v] * 100:>10.1f}%" for v in values))
    groups = doc["segments"] if question is None else [
        {"id": "", "name": f"“{question}” ({doc['customers']:,})", **doc}]
    for seg in groups:
        label = f"{seg['id']:>3} {seg['name']}"[:33]
        cells = "".join(
            (f"[red]{seg['ratios'][v]:>11.2f}[/red]" if v in seg["flags"] else f"{seg['ratios'][v]:>11.2f}")
            if v in seg["ratios"] else f"{'–':>11}" for v in values)
        out.print(f"  {label:<34}{cells}")
    flagged = sum(1 for s in groups if s["flags"])
    out.print(f"[dim]{flagged} of {len(groups)} groups have a value outside 0.8–1.25[/dim]")


@app.command()
def brief(
    segment: Annotated[str, typer.Option(help="Segment id or name.")],
    llm: LlmOpt = None,
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    json_out: JsonOpt = False,
) -> None:
    """A campaign brief for a segment: goal, audience, offer, channel and message, from verified
    facts."""
    doc = campaign_brief(Workspace(workspace), segment, llm=llm)
    if json_out:
        emit_json(doc)
        return
    out = _out()
    out.print(f"[bold]Campaign brief: {doc['segment']['name']}[/bold]  "
              f"[dim]({doc['segment']['size']:,} customers, written by {doc['writer']})[/dim]")
    for part in ("goal", "audience", "offer", "channel", "message"):
        out.print(f"  [bold]{part:<9}[/bold]{doc[part]}")
    if doc["writer_reason"]:
        out.print(f"[dim]LLM not used: {doc['writer_reason']}[/dim]")
