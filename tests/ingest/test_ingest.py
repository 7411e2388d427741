"""Ingest: formats, mapping, normalisation, and the accounting of every row."""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import WriteEvents, write_rows
from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import InputError
from segmint.agent.core.workspace import connect
from segmint.agent.ingest.events import ingest

BASE = [
    {"user_id": "007", "timestamp": "2024-01-01T10:00:00", "event_type": "search",
     "text": "trail shoes"},
    {"user_id": "007", "timestamp": "2024-01-02T10:00:00", "event_type": "purchase",
     "text": "Trail Runner 2", "order_id": "A1", "quantity": "2", "price": "49.5"},
    {"user_id": "17850.0", "timestamp": "2024-01-03 08:00:00", "event_type": "view",
     "text": "Espresso cups"},
]


def load(files: list[Path], **cfg: object) -> tuple[object, list[tuple[object, ...]]]:
    con = connect(":memory:")
    report = ingest(con, files, RunConfig.model_validate(cfg))
    rows = con.execute(
        "SELECT user_id, ts, event_type, text, order_id, quantity, price, amount FROM events "
        "ORDER BY ts"
    ).fetchall()
    return report, rows


@pytest.mark.parametrize("name", ["e.csv", "e.csv.gz", "e.parquet", "e.jsonl"])
def test_every_format_loads_the_same_rows(write_events: WriteEvents, name: str) -> None:
    path = write_events(BASE, name)
    report, rows = load([path])
    assert rows == [
        ("007", datetime(2024, 1, 1, 10), "search", "trail shoes", None, 1.0, None, None),
        ("007", datetime(2024, 1, 2, 10), "purchase", "Trail Runner 2", "A1", 2.0, 49.5, 99.0),
        ("17850", datetime(2024, 1, 3, 8), "view", "Espresso cups", None, 1.0, None, None),
    ]
    assert (report.events_in, report.events_ok, report.events_rejected) == (3, 3, 0)


def test_several_files_are_concatenated(write_events: WriteEvents) -> None:
    a = write_events(BASE[:2], "a.csv")
    b = write_events(BASE[2:], "b.jsonl")
    report, rows = load([a, b])
    assert report.events_ok == 3 and len(report.files) == 2
    assert [f.rows_ok for f in report.files] == [2, 1]
    assert [r[0] for r in rows] == ["007", "007", "17850"]


def test_map_and_aliases(write_events: WriteEvents) -> None:
    rows = [{"CustomerID": "12.0", "InvoiceDate": "2024-02-01 00:00", "Qty": "3",
             "UnitPrice": "£2.50", "Description": "Mug"}]
    path = write_events(rows)
    report, loaded = load([path], map={"user_id": "CustomerID", "timestamp": "InvoiceDate"})
    # Qty and UnitPrice and Description are recognised aliases; no event_type column: purchases.
    assert loaded == [("12", datetime(2024, 2, 1), "purchase", "Mug", None, 3.0, 2.5, 7.5)]
    assert report.files[0].columns["quantity"] == "Qty"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-01T12:30:00Z", datetime(2024, 3, 1, 12, 30)),
        ("2024-03-01T14:30:00+02:00", datetime(2024, 3, 1, 12, 30)),
        ("2024-03-01", datetime(2024, 3, 1)),
        ("1709296200", datetime(2024, 3, 1, 12, 30)),
        ("1709296200000", datetime(2024, 3, 1, 12, 30)),
        ("1709296200.5", datetime(2024, 3, 1, 12, 30, 0, 500000)),
    ],
)
def test_timestamps_iso_and_epoch(write_events: WriteEvents, raw: str, expected: datetime) -> None:
    path = write_events([{"user_id": "1", "timestamp": raw}])
    _, rows = load([path])
    assert rows[0][1] == expected


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("Add_To_Cart", "cart"), ("add-to-cart", "cart"), ("ORDER", "purchase"),
     ("transaction", "purchase"), ("page_view", "view"), ("Search", "search"),
     ("refund", "return")],
)
def test_event_type_synonyms(write_events: WriteEvents, raw: str, canonical: str) -> None:
    path = write_events([{"user_id": "1", "timestamp": "2024-01-01", "event_type": raw}])
    _, rows = load([path])
    assert rows[0][2] == canonical


def test_custom_event_type_synonym_from_config(write_events: WriteEvents) -> None:
    path = write_events([{"user_id": "1", "timestamp": "2024-01-01", "event_type": "wishlist"}])
    report, rows = load([path])
    assert report.reject_reasons == {"unknown event_type 'wishlist'": 1}
    _, rows = load([path], event_types={"wishlist": "cart"})
    assert rows[0][2] == "cart"


def test_returns_from_negative_quantity_or_amount(write_events: WriteEvents) -> None:
    rows = [
        {"user_id": "1", "timestamp": "2024-01-01", "quantity": "-2", "price": "5"},
        {"user_id": "1", "timestamp": "2024-01-02", "amount": "-7.5"},
        {"user_id": "1", "timestamp": "2024-01-03", "event_type": "return", "quantity": "1",
         "price": "4"},
    ]
    _, loaded = load([write_events(rows)])
    assert [(r[2], r[5], r[7]) for r in loaded] == [
        ("return", -2.0, -10.0), ("return", -1.0, -7.5), ("return", -1.0, -4.0)]


def test_bad_rows_are_rejected_with_reasons_and_the_rest_loads(write_events: WriteEvents) -> None:
    rows = [
        {"user_id": "", "timestamp": "2024-01-01", "event_type": "view"},
        {"user_id": "nan", "timestamp": "2024-01-01", "event_type": "view"},
        {"user_id": "2", "timestamp": "", "event_type": "view"},
        {"user_id": "2", "timestamp": "yesterday", "event_type": "view"},
        {"user_id": "2", "timestamp": "2024-01-01", "event_type": "teleport"},
        {"user_id": "2", "timestamp": "2024-01-01", "event_type": "purchase", "price": "abc"},
        {"user_id": "2", "timestamp": "2024-01-01", "event_type": "purchase", "quantity": "x"},
        {"user_id": "3", "timestamp": "2024-01-01", "event_type": "purchase", "price": "1"},
    ]
    path = write_events(rows, columns=["user_id", "timestamp", "event_type", "price", "quantity"])
    with path.open("a") as fh:  # a line with too many fields
        fh.write("9,2024-01-01,view,1,1,extra,fields\n")
    con = connect(":memory:")
    report = ingest(con, [path], RunConfig())
    assert (report.events_in, report.events_ok, report.events_rejected) == (9, 1, 8)
    assert report.reject_reasons == {
        "missing user_id": 2,
        "malformed CSV line: too many columns": 1,
        "missing timestamp": 1,
        "non-numeric price": 1,
        "non-numeric quantity": 1,
        "unknown event_type 'teleport'": 1,
        "unparseable timestamp": 1,
    }
    raws = [r[0] for r in con.execute("SELECT raw FROM rejects").fetchall()]
    assert all(raw for raw in raws), "every reject keeps its raw values"
    assert any("yesterday" in raw for raw in raws)


def test_invalid_json_lines_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"user_id": 1, "timestamp": 1709296200}\nnot json\n\n[1, 2]\n')
    report, rows = load([path])
    assert rows[0][0] == "1"
    assert report.reject_reasons == {"invalid JSON line": 2, "blank line": 1}
    assert report.events_in == 4


def test_attribute_is_the_most_frequent_value(write_events: WriteEvents) -> None:
    rows = [{"user_id": "1", "timestamp": f"2024-01-0{i}", "Country": c}
            for i, c in enumerate(["FR", "DE", "DE", None], start=1)]
    con = connect(":memory:")
    report = ingest(con, [write_events(rows)], RunConfig.model_validate({"attr": {"country": "Country"}}))
    assert report.attributes == ["country"]
    values = con.execute("SELECT attr_country FROM events ORDER BY ts").fetchall()
    assert [v[0] for v in values] == ["FR", "DE", "DE", None]


def _no_user_column(d: Path) -> Path:
    return write_rows(d / "e.csv", [{"a": 1, "timestamp": "2024"}])


def _empty(d: Path) -> Path:
    (d / "e.csv").write_text("")
    return d / "e.csv"


def _missing(d: Path) -> Path:
    return d / "missing.csv"


def _spreadsheet(d: Path) -> Path:
    (d / "e.xlsx").write_text("x")
    return d / "e.xlsx"


def _empty_gzip(d: Path) -> Path:
    with gzip.open(d / "e.csv.gz", "wb"):
        pass
    return d / "e.csv.gz"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (_no_user_column, "column 'user_id'"),
        (_empty, "file is empty"),
        (_missing, "file not found"),
        (_spreadsheet, "unknown file type"),
        (_empty_gzip, "e.csv.gz"),
    ],
)
def test_unusable_files_raise_one_line_naming_the_file(
    tmp_path: Path, setup: Callable[[Path], Path], message: str
) -> None:
    path = setup(tmp_path)
    with pytest.raises(InputError) as info:
        load([path])
    text = str(info.value)
    assert message in text and "\n" not in text and str(path.name) in text


def test_missing_mapped_column_names_the_fix(write_events: WriteEvents) -> None:
    path = write_events(BASE)
    with pytest.raises(InputError, match=r"'CustomerID'.*--map user_id="):
        load([path], map={"user_id": "CustomerID"})


cell = st.one_of(
    st.none(), st.text(max_size=12),
    st.sampled_from(["1", "-3", "2.5", "nan", "1e400", "£4", "2024-01-01", "1709296200",
                     "view", "purchase", "17850.0", " ", ",", '"', "\n"]),
)
row = st.fixed_dictionaries(
    {c: cell for c in ("user_id", "timestamp", "event_type", "quantity", "price", "text")}
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(row, min_size=1, max_size=25),
       fmt=st.sampled_from(["e.csv", "e.jsonl", "e.parquet"]))
def test_accounting_holds_for_any_rows(tmp_path: Path, rows: list[dict[str, object]],
                                       fmt: str) -> None:
    path = write_rows(tmp_path / fmt, rows)
    con = connect(":memory:")
    with contextlib.suppress(InputError):
        report = ingest(con, [path], RunConfig())
        n_events, n_rejects = con.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rejects)"
        ).fetchone() or (0, 0)
        assert report.events_in == report.events_ok + report.events_rejected
        assert (report.events_ok, report.events_rejected) == (n_events, n_rejects)
        if not fmt.endswith(".csv"):  # CSV may legitimately merge lines with embedded newlines
            assert report.events_in == len(rows)
