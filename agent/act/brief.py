"""Campaign briefs: goal, audience (the members the goal is for, with their exact count), offer,
channel and message for one segment (docs/cli.md `brief`), written from verified facts.

The facts are the segment's profile (the same facts its name and description were checked
against) and its campaign plan (agent/describe/offers.py): the goal, who exactly it addresses (a
win-back brief targets the lapsed members) and the products to promote — the plan the segment's
suggested action and `recommend --segment` come from. A brief is written by the built-in writer
(deterministic, offline) or by an LLM chain (`--llm`), and must pass the same kind of verifier as
names: every number it states equals a fact of its kind (percent, money, plain count or ratio) at
the precision written, the audience states the audience's exact count, every field is plain text
of at most 600 characters (llm/plain_text.py), and there is no personal data. An LLM brief that
fails twice is replaced by the built-in one, with the reason.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from pydantic import BaseModel, Field

from segmint.agent.act.recommend import resolve_segment
from segmint.agent.core.errors import InputError
from segmint.agent.core.records import SegmentProfile, read_latest_run, read_segment
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.naming import allowed_numbers, matches_fact, numbers_in
from segmint.agent.describe.offers import Plan, segment_plan
from segmint.agent.llm.backends import LLMUnavailable
from segmint.agent.llm.plain_text import MAX_FIELD_CHARS, plain_text_problems
from segmint.agent.llm.privacy import pii_count, scrub, shared_text
from segmint.agent.llm.structured import StructuredChat, StructuredOutputUnsupported, open_chat_model
from segmint.agent.query import catalogue
from segmint.agent.query.glossary import Glossary, load_glossary
from segmint.prompts import RenderedPrompt, render

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

PURPOSE = "campaign_brief"
FIELDS = ("goal", "audience", "offer", "channel", "message")


class BriefText(BaseModel):
    """The five parts of a brief (the LLM's structured output has this shape)."""

    goal: str = Field(description="one sentence: what the campaign should achieve")
    audience: str = Field(description="one sentence with the exact number of customers the goal is for")
    offer: str = Field(description="one sentence built on the products they buy unusually often")
    channel: str = Field(description="channel(s) and why, one sentence")
    message: str = Field(description="the customer-facing message, at most two sentences")


@dataclass
class BriefFacts:
    """What a brief may state about a segment."""

    segment_id: str
    name: str
    profile: SegmentProfile
    plan: Plan
    total_customers: int
    currency: str

    @property
    def products(self) -> list[dict[str, Any]]:
        """The products to promote (the plan's)."""
        return self.plan.items

    def numbers(self) -> dict[str, list[float]]:
        """Every number a brief may state, by kind (see naming.allowed_numbers)."""
        facts = allowed_numbers(self.profile, self.total_customers)
        facts["percent"] += [p["buyers_share"] * 100 for p in self.products]
        facts["percent"] += [self.plan.goal.share * 100]
        facts["plain"] += [v for p in self.products for v in (p["lift"], p["buyers"])]
        facts["plain"] += [self.plan.audience]
        return facts

    def prompt_facts(self) -> dict[str, Any]:
        """Aggregates only: no representative customers, attribute values or customer texts."""
        prof = self.profile.to_json()
        return {"segment": self.name, "customers": self.profile.size,
                "goal": self.plan.goal.text, "audience_customers": self.plan.audience,
                "audience": self.plan.audience_words,
                "share_percent": round(self.profile.share * 100, 1),
                "shop_customers": self.total_customers, "currency": self.currency,
                "term_percent": {k: round(v * 100, 1) for k, v in self.profile.term_shares.items()},
                "median": prof["median"], "top_categories": prof["top_categories"],
                "top_terms": prof["top_terms"][:8]}


def load_facts(con: duckdb.DuckDBPyConnection, segment: str) -> BriefFacts:
    """The facts of one segment, named by id or name.

    Raises:
        InputError: unknown segment, or one without a profile (run `segmint run` again).
    """
    sid, name = resolve_segment(con, segment)
    if sid == "0":
        raise InputError("the Unassigned group shares no common traits to brief a campaign on",
                         field="--segment", kind="option", fix="pick a segment from `segmint segments`")
    found = read_segment(con, sid)
    profile = found.profile if found is not None else None
    if profile is None:
        raise InputError(f"segment {sid} has no profile", field="--segment", kind="option",
                         fix="run `segmint run` again with this version of segmint")
    (total,) = con.execute("SELECT count(*) FROM users").fetchall()[0]
    latest = read_latest_run(con)
    currency = latest.currency if latest is not None else ""
    plan = segment_plan(con, sid, profile.size, profile.term_shares, load_glossary(), catalogue(con),
                        limit=5)
    return BriefFacts(sid, name, profile, plan, int(total), currency)


def verify_brief(brief: BriefText, facts: BriefFacts) -> list[str]:
    """What is wrong with a brief (empty when it passes)."""
    problems = []
    allowed = facts.numbers()
    # Names quoted from the data (products, categories, the segment) may hold digits of their own.
    quoted = sorted({str(x) for x in [facts.name, *(p["text"] for p in facts.products),
                                      *(c["category"] for c in facts.profile.top_categories),
                                      *(p.get("text") for p in facts.profile.top_products)]
                     if x}, key=len, reverse=True)
    for part in FIELDS:
        text = getattr(brief, part).strip()
        checked = text
        for name in quoted:
            checked = checked.replace(name, " ")
        if not text:
            problems.append(f"the {part} is empty")
        if len(text) > MAX_FIELD_CHARS:
            problems.append(f"the {part} has {len(text):,} characters; use at most {MAX_FIELD_CHARS}")
            continue
        # Quoted data names are left out: a product may be called anything; the model's words may not.
        problems += plain_text_problems(checked, f"the {part}", MAX_FIELD_CHARS)
        for written, value, decimals, kind in numbers_in(checked):
            if not matches_fact(value, decimals, allowed[kind]):
                problems.append(f"the number {written} in the {part} is not one of the facts")
    stated = [v for _, v, d, k in numbers_in(brief.audience) if k == "plain" and d <= 0]
    if facts.plan.audience not in stated:
        problems.append(f"the audience must state how many customers the goal is for "
                        f"({facts.plan.audience_words})")
    if pii_count(" ".join(getattr(brief, p) for p in FIELDS)):
        problems.append("the brief contains personal data")
    ids = [u for u in facts.profile.representatives if len(u) >= 4]
    if any(u in getattr(brief, p) for u in ids for p in FIELDS):
        problems.append("the brief names individual customers")
    return problems


def builtin_brief(facts: BriefFacts) -> BriefText:
    """A brief from the facts alone (deterministic, offline): the plan's goal, its audience and
    its products."""
    p, plan = facts.profile, facts.plan
    goal = plan.goal
    top = facts.products[0] if facts.products else None
    product = str(top["text"] or top["product_id"]) if top else None
    interest = (str(p.top_categories[0]["category"]) if p.top_categories
                else ", ".join(p.top_terms[:2]) or "their favourite products")
    if goal.term is None:
        goal_text = f"{goal.text} in {interest}."
        audience = (f"All {p.size:,} customers of “{facts.name}” ({p.share * 100:.1f}% of all "
                    f"customers), who engage most with {interest}.")
    else:
        goal_text = f"{goal.text}: {goal.share * 100:.0f}% of this segment are {goal.who}."
        audience = (f"The {plan.audience:,} {goal.who} of “{facts.name}” ({goal.share * 100:.0f}% of "
                    f"its {p.size:,} customers), who engage most with {interest}.")
    if top is not None:
        offer = (f"Feature “{product}”, bought by {top['buyers_share'] * 100:.0f}% of the segment "
                 f"({top['lift']:.1f} times the shop's rate)")
        others = [f"“{i['text'] or i['product_id']}”" for i in facts.products[1:3]]
        offer += f", with {' and '.join(others)} alongside." if others else "."
        message = f"{goal.hook}: {product}, and more picks chosen for you."
    else:
        # Why no product stands out is in the plan (`reason`); the offer says it without numbers.
        offer = f"A curated selection of {interest}: no single product stands out for them."
        message = f"{goal.hook}: new {interest} picks, chosen for you."
    return BriefText(goal=goal_text, audience=audience, offer=offer, channel=goal.channel,
                     message=message)


@dataclass
class Brief:
    """A verified brief and where it came from."""

    facts: BriefFacts
    text: BriefText
    writer: str
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """The docs/cli.md `brief` document, with the writer and the products it builds on."""
        return {"segment": {"id": self.facts.segment_id, "name": self.facts.name,
                            "size": self.facts.profile.size},
                **self.text.model_dump(), "writer": self.writer, "writer_reason": self.reason or None,
                "plan": self.facts.plan.to_json(),
                "products": [{k: p[k] for k in ("product_id", "text", "buyers_share", "lift")}
                             for p in self.facts.products],
                "verified": not verify_brief(self.text, self.facts)}


def llm_brief(facts: BriefFacts, spec: str, glossary: Glossary, log_dir: Path,
              prompts_dir: str | None = None) -> tuple[BriefText | None, str]:
    """A brief from an LLM, verified, with one repair; (None, reason) when it cannot be had.

    Raises:
        LLMSpecError: a malformed spec (a usage error, exit 2).
    """
    try:
        parsed, model = open_chat_model(spec, log_dir)
    except LLMUnavailable as exc:
        return None, str(exc)
    if model is None:
        return None, "builtin asked for"
    return write_with_model(model, parsed.label, facts, glossary, prompts_dir)


def write_with_model(model: BaseChatModel, label: str, facts: BriefFacts, glossary: Glossary,
                     prompts_dir: str | None = None) -> tuple[BriefText | None, str]:
    """Ask a chat model for a brief; keep it only if it verifies (one repair allowed).

    Returns:
        The brief and "llm:LABEL", or None and the reason it was not accepted.
    """
    try:
        chat = StructuredChat(model, BriefText, backend=label, purpose=PURPOSE)
    except StructuredOutputUnsupported as exc:
        return None, str(exc)
    # A product's text only when enough customers share it (llm.privacy.shared_text); else its id.
    products = "\n".join(
        f"- {(shared_text(p) or scrub(str(p['product_id'])))[:120]}: bought by "
        f"{round(p['buyers_share'] * 100, 1)}% of the segment, lift {round(p['lift'], 2)}"
        for p in facts.products)

    def prompt(feedback: str) -> RenderedPrompt:
        return render("brief", prompts_dir=prompts_dir, glossary=glossary,
                      facts=json.dumps(facts.prompt_facts(), ensure_ascii=False, default=str),
                      products=products, feedback=feedback)

    try:
        outcome = chat.ask(prompt, lambda text: verify_brief(text, facts),
                           rejected="LLM brief rejected twice")
    except LLMUnavailable as exc:
        return None, str(exc)
    if outcome.value is None:
        return None, outcome.reason
    return outcome.value, f"llm:{label}"


def campaign_brief(workspace: Workspace, segment: str, *, llm: str | None = None) -> dict[str, Any]:
    """The `segmint brief` document for one segment.

    Raises:
        InputError: unknown segment.
    """
    with contextlib.closing(workspace.reader()) as con:
        facts = load_facts(con, segment)
    text, writer, reason = builtin_brief(facts), "builtin", ""
    if llm not in (None, "", "builtin"):
        written, why = llm_brief(facts, str(llm), load_glossary(), workspace.path)
        if written is not None:
            text, writer = written, why
        else:
            reason = why
    return Brief(facts, text, writer, reason).to_json()
