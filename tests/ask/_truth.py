"""The reference answers of the question eval: `truth:` specs evaluated with pandas on raw data.

Each question in data/eval/answers/ carries a small declarative `truth:` (the format is in
data/eval/answers/README.md) that `Reference` evaluates over one shop's raw events (tests/ask/_raw.py):
a set of customers (optionally the top N by a field), one number, or a table of numbers by group.
Nothing here imports segmint; segment membership is the one input taken from the workspace.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from _raw import PERIOD_CODES, Mask, Raw, compare, customer_features, phrase_regex, singular, window_mask

CYCLES = ("weekday", "hour")  # groups that recur: days of the week, hours of the day

GLOSSARY: dict[str, Callable[[Reference], Mask]] = {
    "high_spenders": lambda r: r.c["revenue"] >= r.percentile("revenue", 80),
    "low_spenders": lambda r: r.c["revenue"] <= r.percentile("revenue", 20),
    "lapsed": lambda r: (r.c["orders"] >= 1) & (r.c["recency_days"] > 90),
    "active": lambda r: r.c["recency_days"] <= 30,
    "at_risk": lambda r: (r.c["orders"] >= 2) & (r.c["recency_days"] > 45) & (r.c["recency_days"] <= 90),
    "new_customers": lambda r: r.c["tenure_days"] <= 30,
    "one_time_buyers": lambda r: r.c["orders"] == 1,
    "repeat_buyers": lambda r: r.c["orders"] >= 2,
    "frequent": lambda r: r.c["orders"] >= r.percentile("orders", 80),
}
Row = tuple[str, float]
# Per-order ratios, over a group its total over its orders: field -> the total divided by orders.
POOLED = {"aov": "revenue", "units_per_order": "units"}


class Reference:
    """Evaluates `truth:` specs over one shop's raw data.

    Args:
        raw: the shop's events, attributes and segments.
        match: how a product phrase is matched: "phrase" (its words in order, as documented), or,
            only to check that every product question means the same under another reading,
            "words" (every word anywhere in the text), "tokens" (whitespace-separated words) or
            "joined" (the words also written as one: CAKESTAND for "cake stand").
    """

    def __init__(self, raw: Raw, match: str = "phrase") -> None:
        self.raw = raw
        self.ev = raw.events
        self.as_of: pd.Timestamp = self.ev["ts"].max()
        self.c = customer_features(self.ev, self.as_of)
        self.match = match
        self._products: dict[str, Mask] = {}
        self._texts = {col: pd.factorize(self.ev[col]) for col in ("text", "category")}
        sizes = raw.segments[raw.segments != "0"].value_counts()
        self.segment_ranks = sorted(sizes.index, key=lambda s: (-sizes[s], int(s)))

    def reading(self, match: str) -> Reference:
        """The same shop with product phrases matched another way (features shared)."""
        other = copy.copy(self)
        other.match, other._products = match, {}
        return other

    def percentile(self, feature: str, p: float) -> float:
        """The p-th percentile of a feature over customers with at least one order."""
        return float(np.percentile(self.c.loc[self.c["orders"] >= 1, feature], p))

    def column(self, name: str) -> pd.Series:
        """A feature or attribute per customer (missing where unknown)."""
        if name in self.c:
            return self.c[name]
        if name == "segment":
            return self.raw.segments.reindex(self.c.index)
        return self.raw.attributes[name].reindex(self.c.index)

    def segment_id(self, rank: int) -> str:
        """The id of the rank-th largest real segment (1 = the largest)."""
        return str(self.segment_ranks[rank - 1])

    def product_rows(self, phrase: str) -> Mask:
        """Events whose product text or category matches a phrase."""
        if phrase not in self._products:
            self._products[phrase] = self._match_rows(phrase)
        return self._products[phrase]

    def _match_rows(self, phrase: str) -> Mask:
        if self.match == "tokens":
            words = [singular(w) for w in phrase.lower().split()]

            def hit(text: str) -> bool:
                tokens = {singular(t.strip(".,;:!?()'\"")) for t in text.lower().split()}
                return all(w in tokens for w in words)
        else:
            regexes = {"words": [phrase_regex(w) for w in phrase.split()],
                       "joined": [phrase_regex(phrase), phrase_regex(phrase.replace(" ", ""))]
                       }.get(self.match, [phrase_regex(phrase)])

            def hit(text: str) -> bool:
                found = [r.search(text) is not None for r in regexes]
                return any(found) if self.match == "joined" else all(found)

        out = np.zeros(len(self.ev), dtype=bool)
        for codes, uniques in self._texts.values():
            # Each distinct text is tested once; code -1 (no text) never matches.
            hits = np.append(np.array([hit(str(u)) for u in uniques], dtype=bool), False)
            out |= hits[codes]
        return pd.Series(out, index=self.ev.index)

    def event_rows(self, spec: dict[str, Any]) -> pd.DataFrame:
        """The events an event condition or a windowed measure looks at."""
        kind = spec.get("type", "purchase")
        ev = self.ev
        if kind == "purchase" and spec.get("measure") in ("spend", "units"):
            rows = ev["event_type"].isin(["purchase", "return"])
        elif kind == "any":
            rows = pd.Series(True, index=ev.index)
        else:
            rows = ev["event_type"] == kind
        if spec.get("product"):
            rows &= self.product_rows(spec["product"])
        if spec.get("window"):
            rows &= window_mask(ev["ts"], spec["window"], self.as_of)
        return ev.loc[rows, ["user_id", "ts", "event_type", "order_id", "quantity", "amount"]]

    @staticmethod
    def per_user(rows: pd.DataFrame, measure: str) -> pd.Series:
        """One measure of each user's rows: events, orders, spend, units or days."""
        g = rows.groupby("user_id")
        if measure == "orders":
            buy = rows[rows["event_type"] == "purchase"]
            return buy.groupby("user_id")["order_id"].nunique().reindex(g.size().index).fillna(0)
        if measure == "days":
            return rows.assign(day=rows["ts"].dt.normalize()).groupby("user_id")["day"].nunique()
        if measure == "spend":
            return g["amount"].sum().round(6)
        return {"events": g.size, "units": g["quantity"].sum}[measure]()

    # ------------------------------------------------------------------ customer sets
    def mask(self, expr: dict[str, Any] | None) -> Mask:
        """The customers a truth expression selects (several keys are AND-ed)."""
        out = pd.Series(True, index=self.c.index)
        for key, arg in (expr or {}).items():
            out &= self._one(key, arg)
        return out

    def _one(self, key: str, arg: Any) -> Mask:
        if key == "term":
            out = pd.Series(True, index=self.c.index)
            for term in [arg] if isinstance(arg, str) else arg:
                out &= GLOSSARY[term](self)
            return out
        if key == "field":
            name, op, value = arg
            if value == "average":  # the mean over customers with an order; AOV the shop's pooled
                buyers = self.c[self.c["orders"] > 0]
                value = (buyers[POOLED[name]].sum() / buyers["orders"].sum() if name in POOLED
                         else self.column(name)[buyers.index].mean())
            return compare(self.column(name), op, value)
        if key == "attr":
            name, value = arg
            return compare(self.column(name), "in" if isinstance(value, list) else "=", value)
        if key == "segment":
            ranks = arg if isinstance(arg, list) else [arg]
            return self.column("segment").isin([self.segment_id(int(r)) for r in ranks])
        if key == "not":
            return ~self.mask(arg)
        if key in ("any", "all"):
            masks = [self.mask(sub) for sub in arg]
            return pd.Series((np.logical_or if key == "any" else np.logical_and).reduce(masks),
                             index=self.c.index)
        if key == "bought":
            return self._one("events", {"product": arg})
        if key == "events":
            rows = self.event_rows(arg)
            if "op" not in arg:
                # unique() first: isin over 400k arrow strings is slow in pandas.
                return self.c.index.to_series().isin(rows["user_id"].unique())
            return compare(self.per_user(rows, arg["measure"]).reindex(self.c.index), arg["op"],
                           arg["value"])
        if key == "cohort":
            ((which, window),) = arg.items()
            return window_mask(self.c[f"{which}_purchase"], window, self.as_of).fillna(False)
        raise KeyError(f"unknown truth key {key!r}")

    def ranked(self, truth: dict[str, Any]) -> pd.Series:
        """The selected customers' ranking field, in rank order (for a `top:` truth)."""
        top = truth["top"]
        chosen = self.c.index[self.mask(truth.get("customers"))]
        by = top.get("by", "revenue")
        if isinstance(by, dict):  # ranked by a measure of their events; none counts 0
            values = self.per_user(self.event_rows(by["events"]), by["events"]["measure"]
                                   ).reindex(chosen).fillna(0)
        else:
            values = self.column(by).loc[chosen].dropna()
        return values.sort_values(ascending=bool(top.get("asc", False)), kind="stable")

    def top_is_determinate(self, truth: dict[str, Any]) -> bool:
        """Whether the N-th and (N+1)-th customers of a ranked truth differ (no tie at the cut)."""
        values, n = self.ranked(truth).to_numpy(), int(truth["top"]["n"])
        return len(values) <= n or values[n - 1] != values[n]

    def customers(self, truth: dict[str, Any]) -> set[str]:
        """The customer set of a `customers` truth (the top N of it with `top: {n, by, asc}`)."""
        if "top" in truth:
            return set(self.ranked(truth).index[: int(truth["top"]["n"])])
        return set(self.c.index[self.mask(truth.get("customers"))])

    # ------------------------------------------------------------------ numbers and tables
    def number(self, spec: dict[str, Any]) -> float:
        """One number: count, sum / mean / median / min / max of a field, or aov, over `where`."""
        return self._measure(spec, self.mask(spec.get("where")))

    def _measure(self, spec: dict[str, Any], where: Mask) -> float:
        agg, name = spec["agg"], spec.get("field")
        if agg == "count":
            return float(where.sum())
        if spec.get("events") is not None:  # a total of the selected customers' events about a product
            e = spec["events"]
            values = self.per_user(self.event_rows(e), e["measure"])
            total = float(values[values.index.isin(self.c.index[where])].sum())
            total = abs(total) if e.get("type") == "return" else total  # returned units count positive
            return total if agg == "sum" else total / float(where.sum())
        if spec.get("window") is not None:
            rows = self.event_rows({"window": spec["window"], "measure": "spend"})
            return self._period_value(spec, rows[rows["user_id"].isin(self.c.index[where])])
        if agg == "share":  # of all customers, or with a field of its total over all customers
            if name is None:
                return float(where.sum()) / len(self.c)
            values = self.column(str(name)).astype(float)
            return float(values[where].sum() / values.sum())
        if agg in POOLED:  # pooled over the customers with an order (docs/definitions.md): a
            # return-only customer's negative revenue is not part of any order's value
            buyers = where & (self.c["orders"] > 0)
            total = self.c.loc[buyers, POOLED[agg]].sum()
            return float(total / self.c.loc[buyers, "orders"].sum())
        values = self.column(str(name)).loc[where].dropna().astype(float)
        return float(getattr(values, agg)())

    @staticmethod
    def _period_value(spec: dict[str, Any], rows: pd.DataFrame) -> float:
        """A measure over the events of a window or calendar period (purchase and return rows)."""
        buy = rows[rows["event_type"] == "purchase"]
        if spec["agg"] == "count":
            return float(buy["user_id"].nunique())
        if spec["agg"] == "aov":  # pooled over the customers with an order in it (definitions.md)
            mine = rows[rows["user_id"].isin(buy["user_id"])]
            return float(mine["amount"].sum() / buy["order_id"].nunique())
        back = rows[rows["event_type"] == "return"]
        total = {"revenue": rows["amount"].sum(), "orders": buy["order_id"].nunique(),
                 "units": rows["quantity"].sum(), "returns": len(back),
                 "returned_amount": -back["amount"].sum()}[spec["field"]]
        if spec["agg"] != "sum":
            raise ValueError("a windowed measure is a count, a sum or aov")
        return float(total)

    def table(self, spec: dict[str, Any]) -> list[Row]:
        """(group, value) rows: the groups listed (in that order), else every group, ordered by
        value (`order` desc, the default for customer groups, or asc) or by period (periods)."""
        by, where = spec["by"], self.mask(spec.get("where"))
        if by == "search":  # per text searched for: how many of `where` searched it
            ev = self.ev
            rows = ((ev["event_type"] == "search") & ev["text"].notna()
                    & ev["user_id"].isin(self.c.index[where]))
            if spec.get("window"):
                rows &= window_mask(ev["ts"], spec["window"], self.as_of)
            part = ev.loc[rows]
            values = part.groupby("text")["user_id"].nunique()
            values = {str(k): float(v) for k, v in values.items()}
            return self._arrange(spec, values, spec.get("order", "desc"))
        if by in ("product", "category"):  # by what was bought: a customer counts in each
            return self._arrange(spec, self._by_product(spec, where, by), spec.get("order", "desc"))
        if by == "term":  # glossary terms compared: each one's number among `where`
            values = {g: self._measure(spec, where & self.mask({"term": g})) for g in spec["groups"]}
            return self._arrange(spec, values, spec.get("order"))
        if by in PERIOD_CODES:
            rows = self.event_rows({"window": spec.get("window"), "measure": "spend"})
            rows = rows[rows["user_id"].isin(self.c.index[where])]
            periods = rows["ts"].dt.to_period(PERIOD_CODES[by])
            values = {str(p): self._period_value(spec, part) for p, part in rows.groupby(periods)}
            return self._arrange(spec, values, spec.get("order"))
        if by in CYCLES:  # every Monday (or 14:00) of the window together, in the week's order
            rows = self.event_rows({"window": spec.get("window"), "measure": "spend"})
            rows = rows[rows["user_id"].isin(self.c.index[where])]
            keys = (rows["ts"].dt.dayofweek.astype(str) + " " + rows["ts"].dt.day_name() if by == "weekday"
                    else rows["ts"].dt.strftime("%H:00"))
            values = {str(k).split(" ")[-1]: self._period_value(spec, part)
                      for k, part in sorted(rows.groupby(keys), key=lambda kv: str(kv[0]))}
            return self._arrange(spec, values, spec.get("order"))
        if by.startswith("first_purchase_"):
            first = self.c["first_purchase"]
            keys = first.dt.to_period(PERIOD_CODES[by.removeprefix("first_purchase_")]).astype(str)
            inside = first.notna() & (window_mask(first, spec["window"], self.as_of)
                                      if spec.get("window") else True)
            keys = keys.where(inside)
            groups = sorted(keys[where].dropna().unique())
            values = {g: self._measure({**spec, "window": None}, where & (keys == g)) for g in groups}
            return self._arrange(spec, values, spec.get("order"))
        col = self.column(by).where(where)
        groups = [g for g in col.dropna().unique() if not (by == "segment" and g == "0")]
        if spec["agg"] == "share" and spec.get("field"):  # each group's share of the selected total
            field = self.column(spec["field"]).astype(float)
            values = {str(g): float(field[where & (col == g)].sum() / field[where].sum()) for g in groups}
            return self._arrange(spec, values, spec.get("order", "desc"))
        values = {str(g): self._measure(spec, where & (col == g)) for g in groups}
        return self._arrange(spec, values, spec.get("order", None if spec.get("groups") else "desc"))

    def _by_product(self, spec: dict[str, Any], where: Mask, by: str) -> dict[str, float]:
        """Per product text (or id), or per product category: the customers of `where` who bought
        it, or its revenue (net of its returns), units or orders among them, over the window's
        events."""
        ev = self.ev
        rows = ev["event_type"].isin(["purchase", "return"]) & ev["user_id"].isin(self.c.index[where])
        if spec.get("window"):
            rows &= window_mask(ev["ts"], spec["window"], self.as_of)
        if by == "category":
            rows &= ev["category"].notna()
        part = ev.loc[rows]
        name = (part["category"] if by == "category"
                else part["text"].where(part["text"].notna(), part["product_id"]))
        buy = part["event_type"] == "purchase"
        if spec["agg"] == "share" and spec.get("field"):  # each one's part of the listed total
            sums = self._by_product({**spec, "agg": "sum"}, where, by)
            total = sum(sums.values())
            return {k: v / total for k, v in sums.items()}
        if spec["agg"] in ("count", "share"):
            values = part[buy].groupby(name[buy])["user_id"].nunique()
            if spec["agg"] == "share":
                values = values / float(where.sum())
        elif spec["field"] == "revenue":
            values = part.groupby(name)["amount"].sum().round(6)
        elif spec["field"] == "units":
            values = part[buy].groupby(name[buy])["quantity"].sum()
        elif spec["field"] == "returns":  # the return rows of each product returned
            back = part["event_type"] == "return"
            values = part[back].groupby(name[back]).size()
            buy = back
        else:
            values = part[buy].groupby(name[buy])["order_id"].nunique()
        bought = set(name[buy])
        return {str(k): float(v) for k, v in values.items() if k in bought}

    @staticmethod
    def _arrange(spec: dict[str, Any], values: dict[str, float], order: str | None) -> list[Row]:
        rows = ([(str(g), values.get(str(g), 0.0)) for g in spec["groups"]] if spec.get("groups")
                else list(values.items()))
        if order in ("desc", "asc"):
            rows.sort(key=lambda kv: kv[1], reverse=order == "desc")
        return rows[: spec.get("limit")]

    def table_is_determinate(self, spec: dict[str, Any]) -> bool:
        """Whether a value-ordered table has no tie among the rows compared (or at its cut)."""
        by_customer = (spec["by"] not in (*PERIOD_CODES, *CYCLES)
                       and not spec["by"].startswith("first_purchase_"))
        if spec.get("order", "desc" if by_customer and not spec.get("groups") else None) not in (
                "desc", "asc"):
            return True
        full = self.table({**spec, "limit": None})
        shown = len(full) if spec.get("limit") is None else min(len(full), int(spec["limit"]) + 1)
        values = [v for _, v in full[:shown]]
        return len(set(values)) == len(values)
