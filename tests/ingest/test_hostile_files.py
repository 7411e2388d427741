"""Hostile event files: every data line is counted and accounted for, every value range-checked."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import purchase_rows, run_cli, write_rows
from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import InputError
from segmint.agent.core.workspace import connect
from segmint.agent.ingest.events import IngestReport, ingest

HEADER = "user_id,timestamp,event_type,price,quantity,text"
GOOD = "u1,2024-03-01T10:00:00,purchase,9.5,2,Trail shoes"


def load(path: Path, **cfg: object) -> tuple[IngestReport, list[tuple[object, ...]]]:
    con = connect(":memory:")
    report = ingest(con, [path], RunConfig.model_validate(cfg))
    rejects = con.execute("SELECT source_row, reason FROM rejects ORDER BY source_row").fetchall()
    assert report.events_in == report.events_ok + report.events_rejected
    return report, rejects


def test_comment_lines_are_counted_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(f"# exported by shop admin\n{HEADER}\n{GOOD}\n#u2,2024-03-02,view,,,x\n")
    report, rejects = load(path)
    # The '#' line after the header is data like any other (a user id may start with '#').
    assert (report.events_in, report.events_ok) == (3, 2)
    assert rejects == [(1, "comment line before the header")]


def test_blank_lines_are_rejects_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(f'{HEADER}\n{GOOD}\n\nu2,2024-03-02,view,,,"two\n\nlines"\n\n')
    report, rejects = load(path)
    assert (report.events_in, report.events_ok, report.events_rejected) == (4, 2, 2)
    # DuckDB's numbering: one per record; the quoted field with a blank line inside is one record.
    assert rejects == [(3, "blank line"), (5, "blank line")]


def test_one_over_long_field_rejects_its_line_only_and_names_the_column(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n{GOOD}\nu3,2024-03-01,view,,,{'x' * 3_000_000}\n{GOOD}\n")
    report, rejects = load(path)
    assert (report.events_in, report.events_ok) == (4, 3)
    assert rejects == [(4, "text (column 'text') longer than 65,536 characters")]


def test_runs_of_long_lines_lose_no_valid_line(tmp_path: Path) -> None:
    long_line = f"u3,2024-03-01,view,,,{'x' * 3_000_000}"
    path = tmp_path / "long.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n{long_line}\n{long_line}\n{long_line}\n{GOOD}\n{GOOD}\n")
    report, rejects = load(path)
    assert (report.events_in, report.events_ok) == (6, 3)
    assert [n for n, _ in rejects] == [3, 4, 5]


def test_a_line_the_reader_skips_after_long_lines_is_still_a_reject(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Lines over the reader's limit: DuckDB (2.0.1) skips the line after two of them unlogged.
    monkeypatch.setattr("segmint.agent.ingest.readers.MAX_LINE_BYTES", 2 << 20)
    long_line = f"u3,2024-03-01,view,,,{'x' * 3_000_000}"
    path = tmp_path / "long.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n{long_line}\n{long_line}\n{long_line}\n# note\n{GOOD}\n")
    con = connect(":memory:")
    report = ingest(con, [path], RunConfig())
    assert report.events_in == 6 == report.events_ok + report.events_rejected
    reasons = [r for (r,) in con.execute("SELECT reason FROM rejects").fetchall()]
    assert reasons.count("line longer than 64 MB") == 3
    assert len(reasons) == report.events_rejected


def test_value_rejects_carry_their_line_number(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    lines = ["# exported by shop admin", "", HEADER, GOOD, ",2024-03-01,view,,,no user",
             "", 'u2,2024-03-02,view,,,"two', 'lines"', "u3,2024-03-01,view,,,too,many,fields",
             "u4,not a date,view,,,x", GOOD, "u5,2024-03-01,purchase,abc,1,bad price"]
    path.write_text("\n".join(lines) + "\n")
    report, rejects = load(path)
    assert report.events_ok == 3
    # Lines counted as DuckDB counts them: the quoted field over two lines is one record (7).
    assert rejects == [(1, "comment line before the header"), (2, "blank line"),
                       (5, "missing user_id"), (6, "blank line"),
                       (8, "malformed CSV line: too many columns"),
                       (9, "unparseable timestamp"), (11, "non-numeric price")]


def test_latin1_rows_hint_at_encoding_and_read_with_it(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(f"{HEADER}\nu1,2024-03-01,view,,,Café crème\n{GOOD}\n".encode("latin-1"))
    report, rejects = load(path)
    assert report.events_ok == 1
    assert rejects[0][0] == 2 and "'text'" in rejects[0][1] and "--encoding" in rejects[0][1]
    report, rejects = load(path, encoding="latin-1")
    assert (report.events_ok, rejects) == (2, [])


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-8-sig"])
def test_utf16_and_bom_files_are_detected(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(f"{HEADER}\nu1,2024-03-01,view,,,Café\n".encode(codec))
    con = connect(":memory:")
    report = ingest(con, [path], RunConfig())
    assert report.events_ok == 1
    assert con.execute("SELECT user_id, text FROM events").fetchall() == [("u1", "Café")]


def test_unsupported_encodings_name_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(f"{HEADER}\n{GOOD}\n".encode("utf-16-be"))
    with pytest.raises(InputError, match=r"big-endian.*iconv"):
        load(path)
    with pytest.raises(InputError, match=r"'shift_jis' is not supported.*iconv"):
        load(tmp_path / "e.csv", encoding="shift_jis")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ("u1,2024-03-01,purchase,1e11,1e11,x", "amount out of range (over 1e+12)"),
        ("u1,2024-03-01,purchase,2e12,1,x", "price out of range (over 1e+12)"),
        ("u1,2024-03-01,purchase,1,-5e12,x", "quantity out of range (over 1e+12)"),
        ("u1,10000-01-01,view,,,x", "timestamp outside the years 1970-2100"),
        ("u1,1969-12-31T23:59:59,view,,,x", "timestamp outside the years 1970-2100"),
        ("u1,2101-01-01,view,,,x", "timestamp outside the years 1970-2100"),
        (f"{'u' * 257},2024-03-01,view,,,x", "user_id longer than 256 characters"),
    ],
)
def test_values_out_of_range_are_rejects(tmp_path: Path, fields: str, reason: str) -> None:
    path = tmp_path / "e.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n{fields}\n")
    report, _ = load(path)
    assert report.events_ok == 1 and report.reject_reasons == {reason: 1}


def test_values_at_the_limits_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(f"{HEADER}\n{'u' * 256},1970-01-01,purchase,1e12,1,x\nu2,2100-12-31,view,,,x\n")
    report, _ = load(path)
    assert report.events_ok == 2


def _shop_csv(path: Path, extra: str) -> Path:
    write_rows(path, purchase_rows(40, seed=3, texts=["trail shoes", "espresso cups"]),
               columns=["user_id", "order_id", "event_type", "timestamp", "price", "text"])
    with path.open("a", encoding="utf-8") as fh:
        fh.write(extra)
    return path


@pytest.mark.parametrize(
    "extra",
    ["u900,X,purchase,2024-03-01T10:00:00Z,1e308,boom\n",
     "u901,X,purchase,10000-03-01T10:00:00Z,3,far future\n\n#u902,X,view,2024-03-01,,\n"],
)
def test_cli_run_survives_hostile_values(tmp_path: Path, extra: str) -> None:
    events = _shop_csv(tmp_path / "e.csv", extra)
    true_lines = len(events.read_text().splitlines()) - 1
    proc = run_cli("run", str(events), "-w", str(tmp_path / "ws"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["events_in"] == true_lines == doc["events_ok"] + doc["events_rejected"]
    assert doc["events_rejected"] >= 1


def test_cli_encoding_option(tmp_path: Path) -> None:
    events = tmp_path / "e.csv"
    rows = purchase_rows(40, seed=4, texts=["café crème", "thé vert"])
    write_rows(events, rows, columns=["user_id", "order_id", "event_type", "timestamp", "price", "text"])
    events.write_bytes(events.read_text(encoding="utf-8").encode("latin-1"))
    proc = run_cli("run", str(events), "-w", str(tmp_path / "ws"), "--encoding", "latin-1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["events_rejected"] == 0
    proc = run_cli("run", str(events), "-w", str(tmp_path / "ws2"), "--encoding", "klingon")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--encoding" in proc.stderr


# --- fuzz: hostile files through the library entry point -------------------------------------

_value = st.one_of(
    st.sampled_from(["", "1", "-3", "2.5", "1e308", "-1e308", "1e13", "nan", "inf", "£4", "x",
                     "2024-01-01", "10000-01-01", "1969-07-20", "1709296200", "0", "#", "u" * 300,
                     '"', '""', "a\"b", " ", "\t", ";", "|"]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8),
)
_good_ts = st.sampled_from(["2024-01-01", "2024-02-03T04:05:06Z", "1709296200", "2099-12-31"])


def _field(value: str) -> str:
    if any(ch in value for ch in ',"\r\n') or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def _record(draw: st.DrawFn) -> bytes:
    """One data record (one item of the file's accounting): good, bad, blank, comment, ragged, ..."""
    kind = draw(st.sampled_from(["good", "values", "blank", "comment", "ragged", "latin1",
                                 "multiline", "long"]))
    if kind == "blank":
        return b""
    if kind == "comment":
        return ("# " + draw(st.text(alphabet="abc ,#", max_size=10))).encode()
    fields = [draw(st.sampled_from(["u1", "u2", "007", "#u3"])), draw(_good_ts),
              draw(st.sampled_from(["purchase", "view", "search", "return"])), "9.5", "1", "t"]
    if kind == "values":
        for i in draw(st.sets(st.integers(0, 5), min_size=1)):
            fields[i] = draw(_value)
    elif kind == "ragged":
        n = draw(st.integers(1, 9).filter(lambda k: k != 6))
        fields = [*fields, "x", "y", "z"][:n]
    elif kind == "multiline":
        fields[5] = draw(st.sampled_from(["a\nb", "a\n\nb", "\n", 'x"\n"y', "a\r\nb"]))
    elif kind == "long":
        fields[5] = "x" * draw(st.sampled_from([3_000_000, 100_000]))
    line = ",".join(_field(f) for f in fields).encode("utf-8", "surrogatepass")
    if kind == "latin1":
        line = line.replace(b",t", ",Café".encode("latin-1"), 1)
    return line


_hostile_file = st.tuples(
    st.lists(st.sampled_from([b"# exported by shop admin", b""]), max_size=2),
    st.lists(_record(), min_size=1, max_size=12),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
)
# Several over-long lines in a row are included on purpose: DuckDB 2.0.1 skips the line after
# them without a trace (found by this fuzz), and ingest must still count it as a reject.


def _check_accounting(tmp_path: Path, case: tuple[list[bytes], list[bytes], bytes, bool]) -> None:
    preamble, records, newline, final_newline = case
    # Without a final newline, a last empty record is no line at all: "…\n" just ends the file.
    expected = len(preamble) + len(records) - (not final_newline and records[-1] == b"")
    body = newline.join([*preamble, HEADER.encode(), *records]) + (newline if final_newline else b"")
    path = tmp_path / "fuzz.csv"
    path.write_bytes(body)
    con = connect(":memory:")
    report = ingest(con, [path], RunConfig())
    n_events, n_rejects = con.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rejects)").fetchone() or (0, 0)
    assert report.events_in == expected, body[:300]
    assert report.events_in == report.events_ok + report.events_rejected
    assert (report.events_ok, report.events_rejected) == (n_events, n_rejects)
    years = con.execute("SELECT min(year(ts)), max(year(ts)), max(abs(amount)) FROM events").fetchone()
    if years and years[0] is not None:
        assert 1970 <= years[0] <= years[1] <= 2100
        assert years[2] is None or years[2] <= 1e12
    path.unlink()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=_hostile_file)
def test_fuzz_every_line_is_accounted_for(tmp_path: Path,
                                          case: tuple[list[bytes], list[bytes], bytes, bool]) -> None:
    _check_accounting(tmp_path, case)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
@given(case=_hostile_file)
def test_fuzz_every_line_is_accounted_for_10k(tmp_path: Path,
                                              case: tuple[list[bytes], list[bytes], bytes, bool]) -> None:
    _check_accounting(tmp_path, case)


@pytest.mark.parametrize("gz", [False, True])
def test_mixed_line_ends_are_read_not_refused(tmp_path: Path, gz: bool) -> None:
    # DuckDB (2.0.1) refuses a whole file whose lines mix LF and CR LF ends.
    body = f"{HEADER}\n{GOOD}\n,2024-03-01,view,,,no user\r\n{GOOD}\r\n{GOOD}\n".encode()
    path = tmp_path / ("e.csv.gz" if gz else "e.csv")
    path.write_bytes(gzip.compress(body) if gz else body)
    report, rejects = load(path)
    assert (report.events_in, report.events_ok) == (4, 3)
    assert rejects == [(3, "missing user_id")]
    assert not list(Path(tempfile.gettempdir()).glob("segmint-lf-*/e.*"))
