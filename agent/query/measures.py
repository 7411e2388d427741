"""SQL for the numbers a question asks for: one number, or one per group (docs/definitions.md
"Numbers and tables").

A measure aggregates a users-table field of the selected customers, or, with a window, each
customer's spend, orders or units inside it (0 for a customer without purchases there). The
average order value of a group is pooled: its revenue over its orders. A table groups the
customers by a text attribute, their segment or the period of their first purchase, or groups
the events by calendar period ("revenue by month") or by product ("the top products of lapsed
customers": how many of them bought each, or its revenue, units or orders among them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from segmint.agent.query._events import RowFilter, condition_types, event_of, measure_expr, window_sql
from segmint.agent.query.catalogue import Catalogue
from segmint.agent.query.compile import PERIODS, POOLED, CompiledQuery
from segmint.agent.query.errors import SpecError
from segmint.agent.query.spec import Measure, QuerySpec
from segmint.agent.query.windows import TICK, Period

__all__ = ["CATEGORY", "COHORTS", "EVENT_GROUPS", "PRODUCT", "SEARCH", "TERM", "WINDOW_FIELDS",
           "MeasureQuery", "compile_measure", "measure_of"]

PRODUCT = "product"  # the grouping of a table by product
# By the category of the products bought: a customer counts in every category they bought in
# (unlike the `top_category` attribute, one per customer).
CATEGORY = "product_category"
SEARCH = "search"  # by the text searched for ("top searches"): how many customers searched it
EVENT_GROUPS = (PRODUCT, CATEGORY, SEARCH)  # groupings of event rows, not of customers
TERM = "term"  # a table whose rows are glossary terms compared ("repeat vs one-time buyers")

# Each customer's numbers over the purchase and return rows `a` of a window (docs/definitions.md).
_PER_CUSTOMER = (
    "coalesce(round(sum(a.amount), 6), 0) AS spend, "  # money to 1e-6, as the users table
    "count(DISTINCT a.order_key) FILTER (WHERE a.event_type = 'purchase') "
    "+ count(*) FILTER (WHERE a.event_type = 'purchase' AND a.order_key IS NULL) AS orders, "
    "coalesce(sum(a.quantity), 0) AS units, "
    "count(*) FILTER (WHERE a.event_type = 'return') AS returns, "
    "coalesce(-round(sum(a.amount) FILTER (WHERE a.event_type = 'return'), 6), 0) AS returned"
)
# The fields a windowed measure (or a table by period) can take, and its per-customer column.
WINDOW_FIELDS = {"revenue": "spend", "spend": "spend", "orders": "orders", "units": "units",
                 "aov": "aov", "returns": "returns", "returned_amount": "returned"}
# Fields a share of the total can be taken of: they add up over customers.
SHARE_FIELDS = frozenset({"revenue", "orders", "units", "returns", "returned_amount"})
# A table by period in one pass over the rows `a` (value, customers) where no per-customer value
# is needed; the others aggregate each customer's spend, orders or units per period first.
_BOUGHT = "count(DISTINCT a.uid) FILTER (WHERE a.event_type = 'purchase')"
_SINGLE_PASS = {
    ("count", ""): (_BOUGHT, _BOUGHT),
    ("sum", "spend"): ("coalesce(sum(a.amount), 0)", "count(DISTINCT a.uid)"),
    ("sum", "units"): ("coalesce(sum(a.quantity), 0)", "count(DISTINCT a.uid)"),
    ("sum", "orders"): ("count(DISTINCT (a.uid, a.order_key)) FILTER (WHERE a.event_type = 'purchase' "
                        "AND a.order_key IS NOT NULL) + count(*) FILTER (WHERE a.event_type = "
                        "'purchase' AND a.order_key IS NULL)", "count(DISTINCT a.uid)"),
    ("sum", "returns"): ("count(*) FILTER (WHERE a.event_type = 'return')", "count(DISTINCT a.uid)"),
    ("sum", "returned"): ("coalesce(-sum(a.amount) FILTER (WHERE a.event_type = 'return'), 0)",
                          "count(DISTINCT a.uid)"),
}
_AGG_SQL = {"sum": "sum", "mean": "avg", "median": "median", "min": "min", "max": "max"}
# Cohorts: a table by the period of each customer's first purchase.
COHORTS = {
    "first_purchase_month": "strftime(u.first_purchase, '%Y-%m')",
    "first_purchase_quarter": "CAST(year(u.first_purchase) AS VARCHAR) || '-Q' || "
                              "CAST(quarter(u.first_purchase) AS VARCHAR)",
    "first_purchase_year": "CAST(year(u.first_purchase) AS VARCHAR)",
}
_EVENT_PERIODS = {
    "week": "strftime(a.ts, '%G-W%V')",  # ISO weeks, Monday first: 2011-W45
    "month": "strftime(a.ts, '%Y-%m')",
    "quarter": "CAST(year(a.ts) AS VARCHAR) || '-Q' || CAST(quarter(a.ts) AS VARCHAR)",
    "year": "CAST(year(a.ts) AS VARCHAR)",
    # ISO day number first so that the groups sort Monday to Sunday; shown without it (ask/_tables.py)
    "weekday": "CAST(isodow(a.ts) AS VARCHAR) || ' ' || dayname(a.ts)",
    "hour": "strftime(a.ts, '%H:00')",
}


@dataclass
class MeasureQuery:
    """The SQL of a number or table: rows of (group, value, customers).

    Attributes:
        sql: the query; one row for a number (group NULL), one per group for a table.
        params: its parameters, in order.
        measure: the measure (a count of customers when the spec names none).
        period: the measure's window, resolved (None: all time / the users table).
        chronological: groups are calendar periods, shown in time order.
    """

    sql: str
    params: list[Any]
    measure: Measure
    period: Period | None
    chronological: bool


def measure_of(spec: QuerySpec) -> Measure:
    """The measure a spec asks for: a count of customers when it names none."""
    return spec.measure or Measure(agg="count")


def compile_measure(spec: QuerySpec, compiled: CompiledQuery, cat: Catalogue) -> MeasureQuery:
    """The SQL of a number (`spec.kind == "number"`) or a table (`"table"`).

    Args:
        spec: the query.
        compiled: its customers (`compile_spec`).
        cat: the workspace's whitelist of fields and attributes.

    Raises:
        SpecError: an unknown field or grouping, a window on a count, or a number that means
            nothing (the sum of average order values, recency by month).
    """
    m = measure_of(spec)
    # By period, a count's window only bounds the periods shown ("customers who bought each
    # month in 2011"); otherwise the window belongs on a condition.
    by_events = spec.group_by in (*PERIODS, *EVENT_GROUPS)
    if m.window is not None and m.agg in ("count", "share") and not by_events:
        raise SpecError(f"a {m.agg} of customers takes no window; put the window on a condition "
                        "(who bought in it)")
    if m.field in POOLED and m.agg == "sum":
        raise SpecError(f"a sum of {'average order values' if m.field == 'aov' else 'units per order'} "
                        "means nothing; ask for the average")
    if compiled.events_measure is not None:
        return _events_total(spec, m, compiled)
    period = None if m.window is None else compiled.period(m.window)
    if spec.group_by in PERIODS:
        return _by_event_period(spec, m, compiled, period)
    if spec.group_by == SEARCH:
        return _by_search(m, compiled, period)
    if spec.group_by in EVENT_GROUPS:
        return _by_product(m, compiled, period, by_category=spec.group_by == CATEGORY)
    column = WINDOW_FIELDS.get(m.field or "", "")
    if (period is not None and spec.group_by is None and spec.limit is None
            and m.agg in ("sum", "mean") and ("sum", column) in _SINGLE_PASS):
        return _window_total(m, compiled, period, _SINGLE_PASS[("sum", column)][0])
    key = "NULL"
    if spec.group_by is not None:
        key = _customer_group(spec.group_by, cat)
    params: list[Any] = []
    if m.agg == "share" and m.field is not None:
        sql = _field_share(m, compiled, cat, key, spec.group_by is not None, period, params)
    elif m.agg == "share":
        params.extend(compiled.params)
        sql = (f"SELECT {key} AS grp, count(*) FILTER (WHERE {compiled.where}) / count(*) AS value, "
               f"count(*) AS customers FROM users u")
    else:
        source = "users u"
        if spec.group_by is None and spec.limit is not None:  # "the mean revenue of the top 10"
            params.extend([*compiled.params, *compiled.order_params])
            source = (f"(SELECT * FROM users u WHERE {compiled.where} ORDER BY {compiled.order} "
                      f"LIMIT {int(spec.limit)}) u")
        value, customers, join = _value(m, cat, period, params)
        if source == "users u":
            params.extend(compiled.params)
        where = "TRUE" if source != "users u" else compiled.where
        sql = (f"SELECT {key} AS grp, {value} AS value, {customers} AS customers "
               f"FROM {source}{join} WHERE {where}")
    if spec.group_by is not None:
        sql += " GROUP BY grp"
    return MeasureQuery(sql, params, m, period, spec.group_by in COHORTS)


def _field_share(m: Measure, compiled: CompiledQuery, cat: Catalogue, key: str, grouped: bool,
                 period: Period | None, params: list[Any]) -> str:
    """The selected customers' share of a field's total over all customers ("what share of revenue
    comes from repeat buyers"); by group, each group's share of the selected customers' total."""
    name = m.field or ""
    if name not in SHARE_FIELDS or name not in cat.numeric:
        raise SpecError(f"a share of '{name}' means nothing; ask for a share of revenue, orders, "
                        "units, returns or refunds")
    if period is not None:
        raise SpecError("a share of a total takes no window; put the window on a condition")
    params.extend(compiled.params)
    if grouped:
        return (f"SELECT {key} AS grp, sum(u.{name}) / nullif(sum(sum(u.{name})) OVER (), 0) AS value, "
                f"count(*) AS customers FROM users u WHERE {compiled.where}")
    params.extend(compiled.params)  # the condition is said twice: the share, then its customers
    return (f"SELECT NULL AS grp, sum(u.{name}) FILTER (WHERE {compiled.where}) / nullif(sum(u.{name}), 0) "
            f"AS value, count(*) FILTER (WHERE {compiled.where}) AS customers FROM users u")


def _events_total(spec: QuerySpec, m: Measure, compiled: CompiledQuery) -> MeasureQuery:
    """The total (or the mean per selected customer) of a measure's events condition over the
    selected customers' events, in one pass over those rows ("how many teapots did we sell")."""
    e = compiled.events_measure
    assert e is not None
    if spec.group_by is not None:
        raise SpecError("a total of what customers did about a product is one number; ask for it "
                        "without a grouping")
    params: list[Any] = []
    cond = e.condition
    rows = RowFilter(condition_types(event_of(cond), cond.measure), e.items, None).sql(params)
    rows = _selected_rows(rows, compiled, e.period, params)
    params.extend(compiled.params)
    per = " / nullif(n.c, 0)" if m.agg == "mean" else ""
    sql = (f"SELECT NULL AS grp, coalesce(t.v, 0){per} AS value, "
           f"{'n.c' if m.agg == 'mean' else 't.who'} AS customers FROM "
           f"(SELECT {measure_expr(cond.measure or 'events', event_of(cond))} AS v, "
           f"count(DISTINCT a.uid) AS who FROM activity a WHERE {rows}) t, "
           f"(SELECT count(*) AS c FROM users u WHERE {compiled.where}) n")
    return MeasureQuery(sql, params, m, e.period, False)


def _window_total(m: Measure, compiled: CompiledQuery, period: Period, total: str) -> MeasureQuery:
    """The sum (or mean per selected customer) of spend, units or orders in a window, in one pass
    over the window's rows: the same number as summing each customer's value, zeros included."""
    params: list[Any] = []
    rows = _selected_rows("a.event_type IN ('purchase', 'return')", compiled, period, params)
    params.extend(compiled.params)
    per = " / nullif(n.c, 0)" if m.agg == "mean" else ""
    sql = (f"SELECT NULL AS grp, t.v{per} AS value, n.c AS customers FROM "
           f"(SELECT {total} AS v FROM activity a WHERE {rows}) t, "
           f"(SELECT count(*) AS c FROM users u WHERE {compiled.where}) n")
    return MeasureQuery(sql, params, m, period, False)


def _selected_rows(rows: str, compiled: CompiledQuery, period: Period | None, params: list[Any]) -> str:
    """`rows` (a predicate on the activity rows `a`) kept to the period and to the selected
    customers, their parameters appended to `params` in that order."""
    if period is not None:
        rows += f" AND {window_sql('a.ts', period, params)}"
    if compiled.where != "TRUE":
        rows += (" AND a.uid IN (SELECT k.uid FROM customer_keys k WHERE k.user_id IN "
                 f"(SELECT u.user_id FROM users u WHERE {compiled.where}))")
        params.extend(compiled.params)
    return rows


def _customer_group(name: str, cat: Catalogue) -> str:
    if name == "segment":
        if not cat.has_segments:
            raise SpecError("this workspace has no segments yet")
        return "CAST(u.segment_id AS VARCHAR)"
    if name in COHORTS:
        return COHORTS[name]
    if name not in cat.text:
        raise SpecError(f"cannot group by '{name}'; group by an attribute "
                        f"({', '.join(cat.text[:6]) or 'none here'}), segment, or a period")
    return f'u."{name}"'


def _value(m: Measure, cat: Catalogue, period: Period | None,
           params: list[Any]) -> tuple[str, str, str]:
    """The value, the customers it is computed over, and the window's join (its parameters
    appended to `params`), for a measure over customers."""
    if m.agg == "count":
        return "count(*)", "count(*)", ""
    name = m.field or ""
    if period is None:
        if name not in cat.numeric:
            raise SpecError(f"unknown numeric field '{name}'")
        if name in POOLED and m.agg == "mean":  # pooled: the group's revenue (units) over its orders
            return (f"sum(u.{POOLED[name]}) FILTER (WHERE u.orders > 0) / "
                    "nullif(sum(u.orders) FILTER (WHERE u.orders > 0), 0)",
                    "count(*) FILTER (WHERE u.orders > 0)", "")
        return f'{_AGG_SQL[m.agg]}(u."{name}")', f'count(u."{name}")', ""
    column = WINDOW_FIELDS.get(name)
    if column is None:
        raise SpecError(f"'{name}' cannot be counted inside a window; use revenue, orders or units")
    join = (f" LEFT JOIN (SELECT k.user_id, w.* FROM (SELECT a.uid, {_PER_CUSTOMER} FROM activity a "
            f"WHERE a.event_type IN ('purchase', 'return') AND {window_sql('a.ts', period, params)} "
            "GROUP BY a.uid) w JOIN customer_keys k USING (uid)) w ON w.user_id = u.user_id")
    if column != "aov":
        return f"{_AGG_SQL[m.agg]}(coalesce(w.{column}, 0))", "count(*)", join
    if m.agg == "mean":
        return ("sum(w.spend) FILTER (WHERE w.orders > 0) / nullif(sum(w.orders), 0)",
                "count(*) FILTER (WHERE w.orders > 0)", join)
    per_customer = "CASE WHEN w.orders > 0 THEN w.spend / w.orders END"
    return f"{_AGG_SQL[m.agg]}({per_customer})", f"count({per_customer})", join


def _by_event_period(spec: QuerySpec, m: Measure, compiled: CompiledQuery,
                     period: Period | None) -> MeasureQuery:
    """A table of the selected customers' purchases by calendar period of the events.

    Per period: count = customers who bought in it, share = their share of the selected
    customers; sums, means, medians... of each customer's spend, orders or units in the period
    (over the customers with purchases or returns in it); average order value pooled.
    """
    key = _EVENT_PERIODS[spec.group_by or "month"]
    params: list[Any] = []
    if m.agg in ("count", "share"):
        value = customers = "count(*) FILTER (WHERE p.orders > 0)"
        if m.agg == "share":
            params.extend(compiled.params)
            customers = f"(SELECT count(*) FROM users u WHERE {compiled.where})"
            value = f"count(*) FILTER (WHERE p.orders > 0) / {customers}"
            params.extend(compiled.params)
    else:
        column = WINDOW_FIELDS.get(m.field or "")
        if column is None:
            raise SpecError(f"'{m.field}' by {spec.group_by} means nothing; ask for revenue, "
                            "orders or units by period, or group by an attribute")
        if column == "aov" and m.agg == "mean":
            value = "sum(p.spend) FILTER (WHERE p.orders > 0) / nullif(sum(p.orders), 0)"
            customers = "count(*) FILTER (WHERE p.orders > 0)"
        elif column == "aov":
            value = f"{_AGG_SQL[m.agg]}(CASE WHEN p.orders > 0 THEN p.spend / p.orders END)"
            customers = "count(*) FILTER (WHERE p.orders > 0)"
        else:
            value, customers = f"{_AGG_SQL[m.agg]}(p.{column})", "count(*)"
    if compiled.as_of is None:
        raise SpecError("this workspace has no reference time yet; run `segmint run` first")
    # Nothing after as_of: a table by month shows the months of the data up to its reference day.
    cut = period or Period(None, compiled.as_of + TICK, "")
    rows = _selected_rows("a.event_type IN ('purchase', 'return')", compiled, cut, params)
    single = _SINGLE_PASS.get((m.agg, WINDOW_FIELDS.get(m.field or "", "")))
    if single is not None:  # sums and counts need no per-customer step: one pass over the rows
        sql = (f"SELECT {key} AS grp, {single[0]} AS value, {single[1]} AS customers "
               f"FROM activity a WHERE {rows} GROUP BY grp")
        return MeasureQuery(sql, params, m, period, True)
    sql = (f"SELECT grp, {value} AS value, {customers} AS customers FROM ("
           f"SELECT {key} AS grp, a.uid, {_PER_CUSTOMER} FROM activity a WHERE {rows} "
           "GROUP BY grp, a.uid) p GROUP BY grp")
    return MeasureQuery(sql, params, m, period, True)


# By product, what each number counts over the selected customers' rows `a` of that product.
_PRODUCT_VALUES = {
    ("count", None): _BOUGHT,
    ("sum", "spend"): "coalesce(round(sum(a.amount), 6), 0)",
    ("sum", "units"): "coalesce(sum(a.quantity) FILTER (WHERE a.event_type = 'purchase'), 0)",
    ("sum", "orders"): "count(DISTINCT a.order_key) FILTER (WHERE a.event_type = 'purchase')"
                       " + count(*) FILTER (WHERE a.event_type = 'purchase' AND a.order_key IS NULL)",
    ("sum", "returns"): "count(*) FILTER (WHERE a.event_type = 'return')",
    ("sum", "returned"): "coalesce(-round(sum(a.amount) FILTER (WHERE a.event_type = 'return'), 6), 0)",
}
# A table of returns by product counts, and lists, the products returned, with their returners.
_RETURNED = "count(DISTINCT a.uid) FILTER (WHERE a.event_type = 'return')"


def _by_search(m: Measure, compiled: CompiledQuery, period: Period | None) -> MeasureQuery:
    """A table of the texts the selected customers searched for: how many of them searched each
    (count), or that as a share of the selected customers."""
    if m.agg not in ("count", "share"):
        raise SpecError("a table of searches counts the customers who searched each text; ask for "
                        "the top searches, or a share")
    searched = "count(DISTINCT a.uid)"
    value = searched
    params: list[Any] = []
    if m.agg == "share":
        value = f"{searched} / (SELECT count(*) FROM users u WHERE {compiled.where})"
        params.extend(compiled.params)
    rows = _selected_rows("a.event_type = 'search' AND i.text IS NOT NULL", compiled, period, params)
    sql = (f"SELECT i.text AS grp, {value} AS value, {searched} AS customers "
           f"FROM activity a JOIN items i ON i.item = a.item WHERE {rows} GROUP BY grp")
    return MeasureQuery(sql, params, m, period, False)


def _by_product(m: Measure, compiled: CompiledQuery, period: Period | None, *,
                by_category: bool = False) -> MeasureQuery:
    """A table of the products (or product categories) the selected customers bought, named by
    their text (or id).

    count = the selected customers who bought it; share = their share of the selected customers;
    sum of revenue (net of its returns), units or orders among them; or the returns (return rows)
    or refunds of each product they returned, with its returners ("most returned products"). The
    window, when given, bounds the events counted ("best sellers last month").
    """
    column = WINDOW_FIELDS.get(m.field or "") if m.field else None
    # a share of a total by product (category): each one's part of the selected customers' total
    field_share = m.agg == "share" and m.field is not None
    value = _PRODUCT_VALUES.get(("sum" if field_share else "count" if m.agg == "share" else m.agg, column))
    if value is None:
        what = "category" if by_category else "product"
        raise SpecError(f"a {m.agg} of {m.field or 'customers'} by {what} means nothing here; ask for "
                        f"buyers, a share, or the revenue, units or orders of each {what}")
    params: list[Any] = []  # in the order of the SQL: the share's base, then the rows
    if field_share:
        value = f"{value} / nullif(sum({value}) OVER (), 0)"
    elif m.agg == "share":
        value = f"{value} / (SELECT count(*) FROM users u WHERE {compiled.where})"
        params.extend(compiled.params)
    rows = _selected_rows("a.event_type IN ('purchase', 'return') AND i.product"
                          + (" AND i.category IS NOT NULL" if by_category else ""), compiled, period, params)
    key = "i.category" if by_category else "coalesce(i.text, i.product_id)"
    who = _RETURNED if column in ("returns", "returned") else _BOUGHT
    sql = (f"SELECT {key} AS grp, {value} AS value, {who} AS customers "
           f"FROM activity a JOIN items i ON i.item = a.item WHERE {rows} GROUP BY grp "
           f"HAVING {who} > 0")
    return MeasureQuery(sql, params, m, period, False)
