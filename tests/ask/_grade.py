"""Grading one answer of the exact-answer eval against its pandas truth, and the per-class report.

Exact means (data/eval/answers/README.md): the same customer set; a number within 1% or 0.005
(counts exactly); a table with the same groups in the same order and matching values (only the
first row for a "which … has the most" question). A refusal or an error is not exact.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from _raw import PERIOD_CODES
from _truth import Reference, Row

CLASSES = ("fields", "windows", "products", "aggregates", "comparisons", "segments", "wording")
REL, ABS = 0.01, 0.005
UNASSIGNED = {"0", "unassigned"}


@dataclass
class Graded:
    """One question's outcome.

    Attributes:
        shop, cls, q, natural: the question (with segment references resolved).
        exact: the answer equals the truth.
        diff: one line saying how it differs (empty when exact).
        hits, ours: |ours ∩ truth| and |ours| for a customers answer with a product condition.
        listed: whether that answer listed `matched_products`.
    """

    shop: str
    cls: str
    q: str
    natural: bool
    exact: bool
    diff: str = ""
    hits: int | None = None
    ours: int | None = None
    listed: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def product_phrases(truth: Any) -> list[str]:
    """Every product phrase a truth spec uses."""
    if isinstance(truth, dict):
        return [p for k, v in truth.items()
                for p in ([v] if k in ("bought", "product") else product_phrases(v))]
    if isinstance(truth, list):
        return [p for v in truth for p in product_phrases(v)]
    return []


def resolve(text: str, ref: Reference) -> str:
    """Replace `{segN}`, `{segN.name}`, `{segN.topic}` by the rank-N segment's id or name."""

    def sub(m: re.Match[str]) -> str:
        sid = ref.segment_id(int(m.group(1)))
        name = ref.raw.segment_names[sid]
        return {"id": sid, "name": name, "topic": name.split("·")[-1].strip()}[m.group(2) or "id"]

    return re.sub(r"\{seg(\d+)(?:\.(id|name|topic))?\}", sub, text)


def close(got: Any, want: float, *, count: bool) -> bool:
    """A number equal to the truth (counts exactly, others within REL or ABS)."""
    if isinstance(got, bool) or not isinstance(got, int | float):
        return False
    if count:
        return float(got) == want
    return abs(got - want) <= max(ABS, REL * abs(want))


def customers_diff(got: set[str], want: set[str]) -> str:
    """'' when equal, else the sizes and the extra / missing counts with an example of each."""
    if got == want:
        return ""
    extra, missing = sorted(got - want), sorted(want - got)
    return (f"{len(got)} customers, truth {len(want)}: {len(extra)} extra {extra[:2]}, "
            f"{len(missing)} missing {missing[:2]}")


def number_diff(doc: dict[str, Any], want: float, *, count: bool) -> str:
    """'' when the answer's `value` (or, for a count, its `count`) equals the truth."""
    got = doc.get("value")
    if got is None and count:
        got = doc.get("count")
    if close(got, want, count=count):
        return ""
    return f"value {got!r} (kind {doc.get('kind')!r}), truth {want:,.4g}"


def group_key(group: Any, by: str, ref: Reference) -> str:
    """A group label in one spelling: segment ids, YYYY-MM / YYYYQn / YYYY periods, lower case."""
    text = str(group).strip()
    if by == "segment":
        names = {n.lower(): sid for sid, n in ref.raw.segment_names.items()}
        lead = re.match(r"\d+", text)
        return names.get(text.lower(), lead.group(0) if lead else text.lower())
    if by == "term":  # a glossary term, by its id or its label ("repeat_buyers", "repeat buyers")
        return text.lower().replace("_", " ").replace("-", " ")
    unit = by.removeprefix("first_purchase_")
    if unit in PERIOD_CODES:
        return _period_key(text, unit)
    return text.lower()


def _period_key(text: str, unit: str) -> str:
    if unit == "quarter":
        m = re.search(r"(\d{4})\D*Q([1-4])", text, re.I) or re.search(r"Q([1-4])\D*(\d{4})", text, re.I)
        if m:
            year, q = (m.group(1), m.group(2)) if len(m.group(1)) == 4 else (m.group(2), m.group(1))
            return f"{year}Q{q}"
    if unit == "month":
        m = re.match(r"(\d{4})-(\d{1,2})", text)
        if m:
            return f"{m.group(1)}-{int(m.group(2)):02d}"
        for fmt in ("%B %Y", "%b %Y"):
            try:
                return datetime.strptime(text, fmt).strftime("%Y-%m")
            except ValueError:
                pass
    m = re.match(r"(\d{4})", text)
    return m.group(1) if unit == "year" and m else text.lower()


def table_diff(doc: dict[str, Any], spec: dict[str, Any], want: list[Row], ref: Reference) -> str:
    """'' when the answer's rows match the truth's (see the module docstring)."""
    rows = doc.get("rows")
    if not isinstance(rows, list):
        return f"no rows (kind {doc.get('kind')!r})"
    by, count = spec["by"], spec["agg"] == "count"
    got = [(group_key(r.get("group"), by, ref), r.get("value")) for r in rows if isinstance(r, dict)]
    if by == "segment":
        got = [(g, v) for g, v in got if g not in UNASSIGNED]
    truth = [(group_key(g, by, ref), v) for g, v in want]
    shown = ", ".join(f"{g}={v}" for g, v in got[:3])
    if spec.get("limit") == 1:
        same = bool(got) and got[0][0] == truth[0][0] and close(got[0][1], truth[0][1], count=count)
        return "" if same else f"first row {shown or 'none'}; truth {truth[0][0]}={truth[0][1]:,.4g}"
    if spec.get("order") == "any":
        got, truth = sorted(got, key=lambda r: r[0]), sorted(truth, key=lambda r: r[0])
    if len(got) == len(truth) and all(g == t and close(v, w, count=count)
                                      for (g, v), (t, w) in zip(got, truth, strict=True)):
        return ""
    wanted = ", ".join(f"{g}={v:,.4g}" for g, v in truth[:3])
    return f"{len(got)} rows {shown}; truth {len(truth)} rows {wanted}"


def report(results: list[Graded]) -> str:
    """The per-class table (markdown) with the overall row and product precision."""
    lines = ["| class | questions | exact | share |", "|---|---:|---:|---:|"]
    for cls in CLASSES:
        mine = [r for r in results if r.cls == cls]
        exact = sum(r.exact for r in mine)
        lines.append(f"| {cls} | {len(mine)} | {exact} | {exact / max(len(mine), 1):.1%} |")
    exact = sum(r.exact for r in results)
    lines.append(f"| **all** | {len(results)} | {exact} | **{exact / max(len(results), 1):.1%}** |")
    natural = [r for r in results if r.natural]
    lines.append(f"| (phrased naturally) | {len(natural)} | {sum(r.exact for r in natural)} | "
                 f"{sum(r.exact for r in natural) / max(len(natural), 1):.1%} |")
    hits, ours, listed, product = precision(results)
    lines += ["", f"Product precision (|ours ∩ truth| / |ours| over answered product questions): "
              f"{hits:,} / {ours:,} = **{hits / max(ours, 1):.3f}**; `matched_products` listed in "
              f"{listed} of {product} answered product questions."]
    return "\n".join(lines)


def precision(results: list[Graded]) -> tuple[int, int, int, int]:
    """Summed hits and answer sizes over answered product questions, and how many listed products."""
    answered = [r for r in results if r.ours is not None]
    return (sum(r.hits or 0 for r in answered), sum(r.ours or 0 for r in answered),
            sum(bool(r.listed) for r in answered), len(answered))


def failures(results: list[Graded]) -> list[str]:
    """One line per question that was not exact."""
    return [f"[{r.cls}/{r.shop}] {r.q!r}: {r.diff}" for r in results if not r.exact]
