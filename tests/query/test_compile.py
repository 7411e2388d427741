"""Every condition kind compiles to parameterised SQL whose customers are the ones a plain-Python
reading of the raw rows gives (docs/definitions.md "Questions"); text from a question stays data."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from conftest import build_workspace
from segmint.agent.core.workspace import Workspace
from segmint.agent.query import (
    QuerySpec,
    SpecError,
    catalogue,
    compile_measure,
    compile_spec,
    load_glossary,
    match_key,
)

INJECTION = "x'); DROP TABLE users; --"
TEXTS = ["Teapot", "RED TEAPOTS", "TEASPOON", "Cake Stand", "CAKESTAND 3 TIER", INJECTION]
TYPES = ["purchase", "purchase", "purchase", "view", "search", "cart", "return"]


def shop_rows() -> list[dict[str, Any]]:
    """60 customers in 2024 buying, viewing, searching and returning six texts."""
    rng = np.random.default_rng(7)
    rows = []
    for u in range(60):
        for k in range(int(rng.integers(1, 9))):
            kind = TYPES[int(rng.integers(len(TYPES)))]
            when = datetime(2024, 1, 1) + timedelta(days=int(rng.integers(0, 365)),
                                                    hours=int(rng.integers(0, 24)))
            rows.append({
                "user_id": f"u{u:02d}", "timestamp": when.isoformat(), "event_type": kind,
                "text": TEXTS[int(rng.integers(len(TEXTS)))], "order_id": f"o{u}-{k // 2}",
                "quantity": str(int(rng.integers(1, 4))), "price": f"{rng.gamma(2, 20):.2f}",
                "country": ["Germany", "France", "Spain"][u % 3]})
    return rows


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, list[dict[str, Any]]]:
    rows = shop_rows()
    return build_workspace(tmp_path_factory.mktemp("compile-shop"), rows), rows


@pytest.fixture(scope="module")
def con(shop: tuple[Workspace, list[dict[str, Any]]]) -> Iterator[duckdb.DuckDBPyConnection]:
    with contextlib.closing(shop[0].reader()) as c:
        yield c


def raw_events(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as ingest defines them: returns carry negative quantity and amount."""
    out = []
    for r in rows:
        sign = -1 if r["event_type"] == "return" else 1
        qty = sign * float(r["quantity"])
        out.append({**r, "ts": datetime.fromisoformat(r["timestamp"]), "qty": qty,
                    "amount": qty * float(r["price"])})
    return out


def selected(con: duckdb.DuckDBPyConnection, spec: QuerySpec,
             items: dict[str, list[str]] | None = None) -> set[str]:
    """The customers the compiled spec selects; `items` names each phrase's items by text."""
    matches = {}
    for phrase, texts in (items or {}).items():
        ids = [r[0] for r in con.execute("SELECT item FROM items WHERE list_contains(?, text)",
                                         [texts]).fetchall()]
        for g in spec.any_of:
            for c in g:
                if (c.product or c.interest) == phrase:
                    matches[match_key(c)] = ids
    compiled = compile_spec(spec, catalogue(con), load_glossary(), con, matches)
    for text in (*TEXTS, "teapot"):  # no text of a question ever reaches the SQL
        assert text.lower() not in compiled.where.lower()
    return {r[0] for r in con.execute(f"SELECT user_id FROM users u WHERE {compiled.where}",
                                      compiled.params).fetchall()}


def who(events: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {e["user_id"] for e in events if test(e)}


def spec(*conditions: dict[str, Any], any_of: list[list[dict[str, Any]]] | None = None) -> QuerySpec:
    return QuerySpec.model_validate({"any_of": any_of or [list(conditions)]})


TEAPOTS = ["Teapot", "RED TEAPOTS"]


def test_events_of_a_type_about_a_product(shop: Any, con: duckdb.DuckDBPyConnection) -> None:
    ev = raw_events(shop[1])
    bought = who(ev, lambda e: e["event_type"] == "purchase" and e["text"] in TEAPOTS)
    s = spec({"kind": "events", "event": "purchase", "product": "teapots"})
    assert selected(con, s, {"teapots": TEAPOTS}) == bought
    viewed = who(ev, lambda e: e["event_type"] == "view" and e["text"] in TEAPOTS)
    s = spec({"kind": "events", "event": "view", "product": "teapots"},
             {"kind": "events", "event": "purchase", "product": "teapots", "negate": True})
    assert selected(con, s, {"teapots": TEAPOTS}) == viewed - bought
    assert selected(con, s, {}) == set()  # a phrase that matched nothing selects no one


def windowed(ev: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    as_of = max(e["ts"] for e in ev)
    return [e for e in ev if as_of - timedelta(days=days) < e["ts"] <= as_of]


def per_user(ev: list[dict[str, Any]], value: Callable[[dict[str, Any]], float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in ev:
        out[e["user_id"]] = out.get(e["user_id"], 0.0) + value(e)
    return out


def test_spend_in_a_window_is_net_of_returns(shop: Any, con: duckdb.DuckDBPyConnection) -> None:
    ev = raw_events(shop[1])
    money = [e for e in windowed(ev, 90) if e["event_type"] in ("purchase", "return")]
    spend = per_user(money, lambda e: e["amount"])
    over = {u for u, v in spend.items() if v > 100}
    s = spec({"kind": "events", "event": "purchase", "measure": "spend", "op": ">", "value": 100,
              "window": {"last": 90, "unit": "day"}})
    assert selected(con, s) == over and over
    # 0 passes "less than 50": customers with no purchase in the window are in.
    everyone = {e["user_id"] for e in ev}
    under = {u for u in everyone if spend.get(u, 0.0) < 50}
    s = spec({"kind": "events", "event": "purchase", "measure": "spend", "op": "<", "value": 50,
              "window": {"last": 90, "unit": "day"}})
    assert selected(con, s) == under and under - set(spend)


@pytest.mark.parametrize(("measure", "op", "value"), [("orders", ">=", 2), ("units", ">", 4),
                                                      ("events", "=", 1), ("days", "between", [2, 3]),
                                                      ("orders", "<=", 1)])
def test_thresholds_count_what_the_docs_say(shop: Any, con: duckdb.DuckDBPyConnection, measure: str,
                                            op: str, value: Any) -> None:
    ev = raw_events(shop[1])
    buys = [e for e in ev if e["event_type"] == "purchase" and e["text"] in TEAPOTS]
    money = [e for e in ev if e["event_type"] in ("purchase", "return") and e["text"] in TEAPOTS]
    users = {e["user_id"] for e in ev}
    if measure == "orders":
        counted = {u: float(len({e["order_id"] for e in buys if e["user_id"] == u})) for u in users}
    elif measure == "units":
        counted = {u: sum(e["qty"] for e in money if e["user_id"] == u) for u in users}
    elif measure == "events":
        counted = {u: float(sum(e["user_id"] == u for e in buys)) for u in users}
    else:
        counted = {u: float(len({e["ts"].date() for e in buys if e["user_id"] == u})) for u in users}
    tests = {">=": lambda v: v >= value, ">": lambda v: v > value, "=": lambda v: v == value,
             "<=": lambda v: v <= value, "between": lambda v: value[0] <= v <= value[1]}
    expected = {u for u, v in counted.items() if tests[op](v)}
    s = spec({"kind": "events", "event": "purchase", "product": "teapots", "measure": measure,
              "op": op, "value": value})
    assert selected(con, s, {"teapots": TEAPOTS}) == expected and expected


def test_calendar_windows_cohorts_and_interest(shop: Any, con: duckdb.DuckDBPyConnection) -> None:
    ev = raw_events(shop[1])
    buys = [e for e in ev if e["event_type"] == "purchase"]
    in_march = who(buys, lambda e: date(2024, 3, 1) <= e["ts"].date() < date(2024, 4, 1))
    s = spec({"kind": "events", "event": "purchase",
              "window": {"start": "2024-03-01", "end": "2024-04-01"}})
    assert selected(con, s) == in_march
    first = {u: min(e["ts"] for e in buys if e["user_id"] == u) for u in {e["user_id"] for e in buys}}
    q2 = {u for u, t in first.items() if date(2024, 4, 1) <= t.date() < date(2024, 7, 1)}
    s = spec({"kind": "cohort", "cohort": "first_purchase",
              "window": {"start": "2024-04-01", "end": "2024-07-01"}})
    assert selected(con, s) == q2 and q2
    anything = who(ev, lambda e: e["text"] in TEAPOTS)
    assert selected(con, spec({"kind": "interest", "interest": "teapots"}), {"teapots": TEAPOTS}) == anything


def test_composition_with_fields_or_and_negation(shop: Any, con: duckdb.DuckDBPyConnection) -> None:
    ev = raw_events(shop[1])
    german = {f"u{u:02d}" for u in range(60) if u % 3 == 0}
    bought = who(ev, lambda e: e["event_type"] == "purchase" and e["text"] in TEAPOTS)
    stands = who(ev, lambda e: e["event_type"] == "purchase" and e["text"] == "Cake Stand")
    in_germany = {"kind": "field", "field": "country", "op": "=", "value": "Germany"}
    s = spec(any_of=[[{"kind": "events", "event": "purchase", "product": "teapots"}, in_germany],
                     [{"kind": "events", "event": "purchase", "product": "cake stand"}]])
    got = selected(con, s, {"teapots": TEAPOTS, "cake stand": ["Cake Stand"]})
    assert got == (bought & german) | stands


def test_injection_in_values_stays_data(shop: tuple[Workspace, Any], con: duckdb.DuckDBPyConnection) -> None:
    before = hashlib.sha256(Path(shop[0].db_path).read_bytes()).hexdigest()
    ev = raw_events(shop[1])
    hostile = spec({"kind": "events", "event": "purchase", "product": INJECTION})
    assert selected(con, hostile, {INJECTION: [INJECTION]}) == who(
        ev, lambda e: e["event_type"] == "purchase" and e["text"] == INJECTION)
    sneaky = {"kind": "field", "field": "country", "op": "=", "value": "x' OR 1=1 --"}
    assert selected(con, spec(sneaky)) == set()
    with pytest.raises(SpecError, match="unknown field"):
        selected(con, spec({"kind": "field", "field": 'country" OR 1=1 --', "op": "=", "value": "x"}))
    assert hashlib.sha256(Path(shop[0].db_path).read_bytes()).hexdigest() == before


def test_money_of_views_and_windows_after_the_data_are_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(SpecError, match="not view events"):
        selected(con, spec({"kind": "events", "event": "view", "measure": "spend", "op": ">", "value": 1}))
    with pytest.raises(SpecError, match="begins after the data ends"):
        selected(con, spec({"kind": "events", "event": "purchase",
                            "window": {"start": "2030-01-01", "end": "2030-02-01"}}))


@pytest.mark.parametrize(("measure", "window"), [("units", None), ("spend", {"last": 120, "unit": "day"}),
                                                 ("orders", None)])
def test_rank_by_orders_customers_by_what_they_did(shop: Any, con: duckdb.DuckDBPyConnection,
                                                   measure: str, window: dict[str, Any] | None) -> None:
    ev = raw_events(shop[1])
    rows = windowed(ev, 120) if window else ev
    money = [e for e in rows if e["text"] in TEAPOTS and e["event_type"] in
             (("purchase",) if measure == "orders" else ("purchase", "return"))]
    if measure == "orders":
        orders: dict[str, set[str]] = {}
        for e in money:
            orders.setdefault(e["user_id"], set()).add(e["order_id"])
        value = {u: float(len(o)) for u, o in orders.items()}
    else:
        value = per_user(money, lambda e: e["qty"] if measure == "units" else e["amount"])
    users = sorted({e["user_id"] for e in ev})
    expected = sorted(users, key=lambda u: (-round(value.get(u, 0.0), 6), u))
    rank = {"kind": "events", "event": "purchase", "product": "teapots", "measure": measure,
            **({"window": window} if window else {})}
    s = QuerySpec.model_validate({"rank_by": rank})
    ids = [r[0] for r in con.execute("SELECT item FROM items WHERE list_contains(?, text)",
                                     [TEAPOTS]).fetchall()]
    key = match_key(s.rank_by) if s.rank_by else None
    compiled = compile_spec(s, catalogue(con), load_glossary(), con, {key: ids} if key else {})
    assert "teapot" not in compiled.order.lower()
    got = [r[0] for r in con.execute(f"SELECT user_id FROM users u WHERE {compiled.where} "
                                     f"ORDER BY {compiled.order}",
                                     [*compiled.params, *compiled.order_params]).fetchall()]
    assert got == expected and value


@pytest.mark.parametrize("rank", [{"kind": "events", "event": "purchase"},
                                  {"kind": "events", "event": "purchase", "measure": "units", "op": ">",
                                   "value": 1},
                                  {"kind": "field", "field": "revenue", "op": ">", "value": 1}])
def test_rank_by_needs_a_measure_and_no_threshold(rank: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="rank_by"):
        QuerySpec.model_validate({"rank_by": rank})
    with pytest.raises(ValueError, match="rank_by"):
        QuerySpec.model_validate({"rank_by": {**rank, "measure": "units", "op": None, "value": None},
                                  "sort_by": "revenue"})


@pytest.mark.parametrize(("measure", "event", "window"), [
    ("units", "purchase", None), ("spend", "purchase", {"last": 120, "unit": "day"}),
    ("orders", "purchase", None), ("units", "return", None)])
def test_a_total_of_a_products_events_is_summed_over_the_selected_customers(
        shop: Any, con: duckdb.DuckDBPyConnection, measure: str, event: str,
        window: dict[str, Any] | None) -> None:
    ev = raw_events(shop[1])
    rows = windowed(ev, 120) if window else ev
    types = (event,) if event == "return" or measure == "orders" else ("purchase", "return")
    mine = [e for e in rows if e["text"] in TEAPOTS and e["event_type"] in types]
    if measure == "orders":
        expected = float(len({(e["user_id"], e["order_id"]) for e in mine}))
    else:
        expected = abs(sum(e["qty"] if measure == "units" else e["amount"] for e in mine))
    events = {"kind": "events", "event": event, "product": "teapots", "measure": measure,
              **({"window": window} if window else {})}
    s = QuerySpec.model_validate({"intent": "count", "measure": {"agg": "sum", "events": events}})
    assert s.measure is not None and s.measure.events is not None
    ids = [r[0] for r in con.execute("SELECT item FROM items WHERE list_contains(?, text)",
                                     [TEAPOTS]).fetchall()]
    compiled = compile_spec(s, catalogue(con), load_glossary(), con, {match_key(s.measure.events): ids})
    mq = compile_measure(s, compiled, catalogue(con))
    (_, value, customers), = con.execute(mq.sql, mq.params).fetchall()
    assert value == pytest.approx(expected) and expected > 0
    assert customers == len({e["user_id"] for e in mine})


@pytest.mark.parametrize("measure", [
    {"agg": "sum", "events": {"kind": "events", "event": "purchase"}},  # no measure
    {"agg": "sum", "events": {"kind": "events", "event": "purchase", "measure": "units", "op": ">",
                              "value": 1}},
    {"agg": "median", "events": {"kind": "events", "event": "purchase", "measure": "units"}},
    {"agg": "sum", "field": "revenue", "events": {"kind": "events", "event": "purchase",
                                                  "measure": "units"}},
])
def test_a_measure_of_events_needs_a_measure_no_threshold_and_a_sum_or_mean(measure: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="events"):
        QuerySpec.model_validate({"measure": measure})


def test_a_total_of_a_phrase_that_matched_nothing_is_zero(con: duckdb.DuckDBPyConnection) -> None:
    events = {"kind": "events", "event": "purchase", "product": "unicorns", "measure": "units"}
    s = QuerySpec.model_validate({"intent": "count", "measure": {"agg": "sum", "events": events}})
    compiled = compile_spec(s, catalogue(con), load_glossary(), con, {})
    mq = compile_measure(s, compiled, catalogue(con))
    assert con.execute(mq.sql, mq.params).fetchall() == [(None, 0.0, 0)]
