"""Request and response shapes of the REST API (docs/cli.md); they make up its OpenAPI schema.

Responses are the CLI's JSON documents; the models name the keys docs/cli.md requires and allow more.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The content type of each export format.
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet",
               "jsonl": "application/x-ndjson"}

class Open(BaseModel):
    """A response that may carry more keys than it names (docs/cli.md: more keys are welcome)."""

    model_config = ConfigDict(extra="allow")


class ErrorResponse(Open):
    """Every error: the status and one line saying what went wrong and how to fix it."""

    status: int
    detail: str


class AskRequest(BaseModel):
    """A question; `context` (the previous answer's `query`) makes "of those, …" a follow-up."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(max_length=2000, examples=["who are my lapsed high spenders?"])
    context: dict[str, Any] | None = Field(
        default=None, description="The `query` of the previous answer, to refine it with a follow-up.")


class Segment(Open):
    """One segment as `segmint segments --json` prints it."""

    id: str
    name: str | None
    description: str | None
    size: int
    share: float
    facts: dict[str, Any]
    top_terms: list[str]


class SegmentsDocument(Open):
    """`segmint segments --json`."""

    segments: list[Segment]
    run: dict[str, Any]


class MatchedProduct(Open):
    """A product a question's product words matched, with its customers among the condition's
    events."""

    product_id: str | None
    text: str | None
    customers: int


class TableRow(Open):
    """One group of a table answer."""

    group: str
    value: float | None
    customers: int


class AskDocument(Open):
    """`segmint ask --json`: the keys of every answer, then its kind's own: `customers` (count,
    sample, export, matched_products), `number` (value, measure, customers) or `table`
    (group_by, measure, rows)."""

    question: str
    understood: bool
    answer: str
    definition: str | None
    query: dict[str, Any] | None
    kind: Literal["customers", "number", "table"] | None = None
    count: int
    sample: list[dict[str, Any]]
    export: str | None
    notes: list[str] = Field(default_factory=list)
    matched_products: list[MatchedProduct] | None = None
    value: float | None = None
    measure: str | None = None
    customers: int | None = None
    group_by: str | None = None
    rows: list[TableRow] | None = None


class SegmentRef(Open):
    """The segment a customer is in."""

    id: str
    name: str | None


class UserDocument(Open):
    """`segmint user --json`."""

    user_id: str
    features: dict[str, Any]
    segment: SegmentRef | None
    why: str


class Neighbour(BaseModel):
    """One lookalike."""

    user_id: str
    score: float


class SimilarDocument(Open):
    """`segmint similar --json`."""

    user_id: str
    similar: list[Neighbour]


class Summary(Open):
    """The shop at a glance, for the page's header."""

    customers: int
    revenue: float
    currency: str
    as_of: str | None
    segments: int
    run_id: str | None
    attributes: list[str] = Field(default_factory=list)


class CustomerMapDocument(Open):
    """Customers in 2-D (column lists), coloured by `segment_id`, and the segment centres."""

    user_id: list[str]
    x: list[float]
    y: list[float]
    segment_id: list[str]
    centres: list[dict[str, Any]]
    total: int
    shown: int


class ChartsDocument(Open):
    """Segment sizes, revenue shares and recency/frequency/monetary distributions per segment."""

    segments: list[dict[str, Any]]
    distributions: dict[str, list[dict[str, Any]]]
