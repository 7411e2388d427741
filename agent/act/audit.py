"""Fairness audit: how each value of a customer attribute is represented in each segment (and in
any export) against the whole shop (docs/cli.md `audit`).

Shares are taken over customers whose attribute is known. For a value v and a group G:
`ratio = share of v in G / share of v among all customers`. A ratio below 0.8 or above 1.25 is
flagged (the four-fifths rule and its inverse): that value is under- or over-represented.

Every value's ratio is in the document; what a reader is shown (the CLI table and the web page)
are the values held by at least `MIN_SHOWN_CUSTOMERS` customers and `MIN_SHOWN_SHARE` of them,
largest first, the rest pooled as "other": a one-customer value makes any ratio extreme.
`shown_flags` lists a group's flagged shown values, furthest from 1 first.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from typing import Any

import duckdb

from segmint.agent.ask.answer import Answerer
from segmint.agent.core.errors import InputError
from segmint.agent.core.sql import fetch_one, sql_ident, table_names
from segmint.agent.core.workspace import Workspace
from segmint.agent.query.catalogue import text_attributes, text_columns

LOW, HIGH = 0.8, 1.25
MAX_VALUES = 50  # an attribute with more distinct values is an identifier, not a group
MIN_EXPECTED_FOR_WARNING = 10  # an export warns on a value only if it should hold >= 10 of it
MIN_SHOWN_CUSTOMERS = 20
MIN_SHOWN_SHARE = 0.01
OTHER = "other"


def audit_attributes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Attributes that can be audited: text columns of `users` with at most MAX_VALUES values."""
    # Not the whole catalogue: its product words cost a cold export ~20 ms more.
    values = text_attributes(con, max_values=MAX_VALUES + 1)
    return [a for a, known in values.items() if 0 < len(known) <= MAX_VALUES]


def resolve_attribute(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The users-table column an attribute name refers to: exact, else the one it starts
    (`age` -> `age_band`), else the one containing it.

    Raises:
        InputError: no attribute, or more than one, matches.
    """
    known = audit_attributes(con)
    key = "".join(ch if ch.isalnum() else "_" for ch in name.strip().lower()).strip("_")
    for pick in ([a for a in known if a == key], [a for a in known if a.startswith(key)],
                 [a for a in known if key and key in a]):
        if len(pick) == 1:
            return pick[0]
        if len(pick) > 1:
            raise InputError(f"'{name}' matches {', '.join(pick)}", field="--attribute",
                             kind="option", fix="give the full name")
    raise InputError(f"no customer attribute '{name}'", field="--attribute", kind="option",
                     fix=f"use one of: {', '.join(known) or 'none (run with --users FILE or --attr)'}")


def _shares(con: duckdb.DuckDBPyConnection, column: str, group: str, where: str = "TRUE",
            params: list[Any] | None = None) -> dict[str, dict[str, Any]]:
    col = f'"{column}"'
    rows = con.execute(f"""
        SELECT {group} AS grp, CAST({col} AS VARCHAR) AS value, count(*) AS n
        FROM users u WHERE {col} IS NOT NULL AND ({where}) GROUP BY 1, 2""", params or []).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for grp, value, n in rows:
        out.setdefault(str(grp), {})[str(value)] = int(n)
    return out


def shown_values(known: int, population: dict[str, float]) -> tuple[list[str], list[str]]:
    """The values a reader is shown (largest first) and those pooled as "other"."""
    shown = [v for v, share in population.items()
             if share >= MIN_SHOWN_SHARE and share * known >= MIN_SHOWN_CUSTOMERS - 1e-9]
    return shown, [v for v in population if v not in shown]


def _compare(counts: dict[str, int], population: dict[str, float], shown: list[str],
             pooled: list[str]) -> dict[str, Any]:
    known = sum(counts.values())
    shares = {v: (counts.get(v, 0) / known if known else 0.0) for v in population}
    ratios = {v: round(shares[v] / population[v], 6) for v in population}
    flags = [v for v in population if known and not LOW <= ratios[v] <= HIGH]
    visible = {v: ratios[v] for v in shown}
    other = sum(population[v] for v in pooled)
    if pooled and other > 0:
        visible[OTHER] = round(sum(shares[v] for v in pooled) / other, 6)
    strongest = sorted((v for v in visible if not LOW <= visible[v] <= HIGH),
                       key=lambda v: (-abs(math.log(max(visible[v], 1e-9))), v))
    return {"known": known, "shares": {v: round(s, 6) for v, s in shares.items()},
            "ratios": ratios if known else {}, "flags": flags,
            "shown_ratios": visible if known else {}, "shown_flags": strongest if known else []}


def population_shares(con: duckdb.DuckDBPyConnection, column: str) -> tuple[int, dict[str, float]]:
    """How many customers have the attribute, and each value's share among them (largest first)."""
    return _population(_shares(con, column, "'all'").get("all", {}))


def _population(counts: dict[str, int]) -> tuple[int, dict[str, float]]:
    known = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return known, {v: n / known for v, n in ordered}


def audit_segments(con: duckdb.DuckDBPyConnection, attribute: str) -> dict[str, Any]:
    """The audit document for every segment (Unassigned included).

    Raises:
        InputError: unknown attribute, or a workspace without segments.
    """
    column = resolve_attribute(con, attribute)
    tables = table_names(con)
    if "segments" not in tables:
        raise InputError("this workspace has no segments yet", fix="run `segmint run` first")
    known, population = population_shares(con, column)
    shown, pooled = shown_values(known, population)
    per_seg = _shares(con, column, "CAST(u.segment_id AS VARCHAR)")
    cols = {r[0] for r in con.execute("DESCRIBE segments").fetchall()}
    name = "name" if "name" in cols else "CAST(segment_id AS VARCHAR)"
    segments = []
    for sid, sname, size in con.execute(
            f"SELECT CAST(segment_id AS VARCHAR), {name}, size FROM segments "
            "ORDER BY segment_id = 0, size DESC, segment_id").fetchall():
        segments.append({"id": sid, "name": sname, "size": int(size),
                         **_compare(per_seg.get(sid, {}), population, shown, pooled)})
    return {"attribute": column, "asked": attribute, "known": known,
            "population": {v: round(s, 6) for v, s in population.items()},
            **_shown_population(population, shown, pooled),
            "thresholds": [LOW, HIGH], "segments": segments}


def _shown_population(population: dict[str, float], shown: list[str], pooled: list[str]
                      ) -> dict[str, Any]:
    visible = {v: round(population[v], 6) for v in shown}
    if pooled:
        visible[OTHER] = round(sum(population[v] for v in pooled), 6)
    return {"shown": shown, "pooled": pooled, "shown_population": visible}


def audit_users(con: duckdb.DuckDBPyConnection, attribute: str, user_ids: list[str]
                ) -> dict[str, Any]:
    """Representation of an attribute among some customers (an export) against the shop."""
    return _audit_column(con, resolve_attribute(con, attribute), user_ids)


def _audit_column(con: duckdb.DuckDBPyConnection, column: str, user_ids: list[str]) -> dict[str, Any]:
    known, population = population_shares(con, column)
    shown, pooled = shown_values(known, population)
    name = f"_segmint_sel_{uuid.uuid4().hex[:8]}"
    # A temp table from a bound list, not a registered Arrow table: building that imports pandas
    # through pyarrow, most of a cold `export`'s time (bench/RESULTS.md "Cold start").
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT unnest(?::VARCHAR[]) AS user_id", [user_ids])
    try:
        counts = _shares(con, column, "'sel'", f"u.user_id IN (SELECT user_id FROM {name})")
    finally:
        con.execute(f"DROP TABLE {name}")
    return {"attribute": column, "known_population": known, "customers": len(user_ids),
            "population": {v: round(s, 6) for v, s in population.items()},
            **_shown_population(population, shown, pooled),
            **_compare(counts.get("sel", {}), population, shown, pooled)}


def export_skew(con: duckdb.DuckDBPyConnection, user_ids: list[str]) -> list[str]:
    """One warning per attribute on which a customer list is skewed: a value whose ratio is outside
    0.8–1.25 and of which the list should hold at least MIN_EXPECTED_FOR_WARNING customers.

    Every attribute's counts, the shop's and the list's, come from one query: one audit per
    attribute cost a cold export of a shop with four attributes ~25 ms (bench/RESULTS.md "Cold
    start"). The numbers are `audit_users`' for each attribute.
    """
    columns = [c for c in text_columns(con) if c != "top_category"]
    if not columns:
        return []
    parts = [f"SELECT {i} AS k, CAST({sql_ident(c)} AS VARCHAR) AS value, count(*) AS n, "
             f"count(*) FILTER (WHERE picked) AS s FROM marked WHERE {sql_ident(c)} IS NOT NULL "
             "GROUP BY 2" for i, c in enumerate(columns)]
    rows = con.execute("WITH marked AS (SELECT u.*, u.user_id IN (SELECT unnest(?::VARCHAR[])) "
                       "AS picked FROM users u) " + " UNION ALL ".join(parts), [user_ids]).fetchall()
    counts: dict[int, dict[str, tuple[int, int]]] = {}
    for k, value, n, s in rows:
        counts.setdefault(int(k), {})[str(value)] = (int(n), int(s))
    warnings = []
    for i, column in enumerate(columns):
        values = counts.get(i, {})
        if not 0 < len(values) <= MAX_VALUES:  # an identifier, not a group (audit_attributes)
            continue
        known, population = _population({v: n for v, (n, _) in values.items()})
        doc = _compare({v: s for v, (_, s) in values.items() if s}, population,
                       *shown_values(known, population))
        # Rare values in small lists swing by chance: only values the list should hold 10+ of.
        flags = [v for v in doc["flags"]
                 if round(population[v], 6) * doc["known"] >= MIN_EXPECTED_FOR_WARNING]
        if not flags:
            continue
        parts_said = ", ".join(f"{v} ×{doc['ratios'][v]:.2f}" for v in flags[:4])
        warnings.append(f"warning: this export is skewed on {column} ({parts_said} of their share of "
                        f"all customers; fair range {LOW}–{HIGH}) — see `segmint audit --attribute "
                        f"{column}`")
    return warnings


def audit(workspace: Workspace, attribute: str, *, question: str | None = None) -> dict[str, Any]:
    """The `segmint audit` document: per segment, or for the customers a question selects.

    Raises:
        InputError: unknown attribute; NotUnderstood: a question that cannot be read.
    """
    if question is None:
        with contextlib.closing(workspace.reader()) as con:
            return audit_segments(con, attribute)
    ids = [str(r["user_id"]) for r in Answerer(workspace).select(question).customers]
    with contextlib.closing(workspace.reader()) as con:
        doc = audit_users(con, attribute, ids)
        (total,) = fetch_one(con.execute("SELECT count(*) FROM users")) or (0,)
    doc["question"] = question
    doc["shop_customers"] = int(total)
    return doc
