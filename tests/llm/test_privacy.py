"""Privacy: personal data is scrubbed before text reaches an LLM; calls are logged without payload."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage

from segmint.agent.llm.backends import invoke_llm
from segmint.agent.llm.call_log import CallLog
from segmint.agent.llm.privacy import (
    call_log_path,
    iban_valid,
    luhn_valid,
    pii_count,
    read_call_log,
    scrub,
    scrub_report,
    scrub_value,
    shared_text,
    shared_values,
)

# Glue text a shop's data could put around an address: words, punctuation, other numbers.
_glue = st.text(alphabet=st.sampled_from(list("abc XYZ,;:()[]<>\"'!?\n\t-0123456789£$")), max_size=20)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(before=_glue, email=st.emails(), after=_glue)
def test_no_email_survives(before: str, email: str, after: str) -> None:
    out = scrub(f"{before}{email}{after}")
    assert email not in out
    assert email.lower() not in out.lower()
    assert "[email]" in out


@settings(max_examples=50)
@given(st.lists(st.emails(), min_size=1, max_size=5), st.sampled_from([" ", ", ", "; ", "\n", " and "]))
def test_every_email_in_a_list_goes(emails: list[str], sep: str) -> None:
    out = scrub("contact: " + sep.join(emails))
    assert "@" not in out


@pytest.mark.parametrize("text", [
    "ring me on +44 20 7946 0958 today",
    "call (555) 123-4567",
    "mobile 07700 900123",
    "tel: 020-7946-0958",
    "+1 555 123 4567",
    "0044 20 7946 0958",
    "5551234567",
    "+49 (0)30 123456789",
])
def test_phone_numbers_go(text: str) -> None:
    report = scrub_report(text)
    assert report.found == {"phone": 1}, report
    assert not any(ch.isdigit() for ch in report.text.replace("[phone]", "")), report.text


@pytest.mark.parametrize("card", ["4111 1111 1111 1111", "4111-1111-1111-1111", "5500005555555559",
                                  "378282246310005", "6011 0009 9013 9424"])
def test_luhn_valid_card_numbers_go(card: str) -> None:
    assert luhn_valid("".join(ch for ch in card if ch.isdigit()))
    assert scrub(f"paid with {card}.") == "paid with [card]."


def test_luhn_invalid_sixteen_digits_are_kept() -> None:
    # An order reference that fails the checksum is not a card (and too long for a phone).
    assert not luhn_valid("4111111111111112")
    assert scrub("order 4111-1111-1111-1112") == "order 4111-1111-1111-1112"


def test_ibans_go_with_checksum() -> None:
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert not iban_valid("GB83 WEST 1234 5698 7654 32")
    out = scrub("refund to GB82 WEST 1234 5698 7654 32 and DE89370400440532013000 please")
    assert out == "refund to [iban] and [iban] please"


def test_national_ids_and_addresses() -> None:
    assert scrub("ssn 078-05-1120, NI AB 12 34 56 C, from 192.168.1.20") == "ssn [id], NI [id], from [ip]"
    assert scrub("write to john dot doe at example dot com") == "write to [email]"
    assert scrub("jane(at)shop[dot]co[dot]uk") == "[email]"


@pytest.mark.parametrize("text", [
    "WHITE HANGING HEART T-LIGHT HOLDER 85123A",
    "on 2011-12-09 10:30:00 sold 12 for £2,015.50",
    "09/12/2011 08:26 invoice 536365",
    "revenue 123456789 over 4,372 customers",
    "top 10 by revenue, orders > 5, recency_days <= 90",
    "pack of 1 2 3 4 5 6 7 8 9 10 candles",
    "price 1234567.89",
    "meet at noon",
])
def test_ordinary_shop_text_is_kept(text: str) -> None:
    assert scrub(text) == text
    assert pii_count(text) == 0


def test_scrub_value_walks_nested_data() -> None:
    facts = {"examples": ["mail a@b.co", ("call 07700 900123",)], "size": 12, "a@b.co": "x"}
    assert scrub_value(facts) == {"examples": ["mail [email]", ("call [phone]",)], "size": 12,
                                  "a@b.co": "x"}


def test_call_log_records_sizes_and_outcome_without_payload(tmp_path: Path) -> None:
    log = CallLog(tmp_path, backend="fake:model", remote=False)
    # The fake answers after 50 ms, so the recorded latency must be at least that.
    model = FakeMessagesListChatModel(responses=[AIMessage(content="Lapsed candle buyers")],
                                      callbacks=[log], sleep=0.05)
    secret = "SECRET-QUESTION-TEXT"
    start = time.perf_counter()
    answer = invoke_llm(model, [("human", f"who are {secret} a@b.co?")], backend="fake:model",
                        purpose="unit_test")
    elapsed_ms = (time.perf_counter() - start) * 1000
    assert answer.content == "Lapsed candle buyers"
    records = read_call_log(tmp_path)
    assert len(records) == 1
    rec = records[0]
    assert rec["backend"] == "fake:model" and rec["purpose"] == "unit_test" and rec["ok"] is True
    assert rec["prompt_chars"] == len(f"who are {secret} a@b.co?")
    assert rec["response_chars"] == len("Lapsed candle buyers")
    assert rec["prompt_tokens"] > 0 and rec["tokens_estimated"] is True
    assert 50 <= rec["latency_ms"] <= elapsed_ms + 0.1  # 0.1: the log rounds to 0.1 ms
    assert rec["pii_in_prompt"] == 1  # the safety net noticed an unscrubbed address
    raw = call_log_path(tmp_path).read_text(encoding="utf-8")
    assert secret not in raw and "a@b.co" not in raw and "Lapsed" not in raw
    assert set(json.loads(raw.splitlines()[0])) == {
        "ts", "backend", "remote", "purpose", "prompt_chars", "prompt_tokens", "response_chars",
        "response_tokens", "tokens_estimated", "latency_ms", "ok", "error", "pii_in_prompt"}


def test_call_log_records_failures(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.jsonl", backend="fake:broken")
    model = FakeMessagesListChatModel(responses=[], callbacks=[log])  # no response: IndexError
    with pytest.raises(IndexError):
        invoke_llm(model, "hello", backend="fake:broken", purpose="unit_test")
    (rec,) = read_call_log(tmp_path / "calls.jsonl")
    assert rec["ok"] is False and rec["error"] == "IndexError" and rec["response_chars"] == 0


@pytest.mark.parametrize("card", ["4111.1111.1111.1111", "4111/1111/1111/1111", "4111 1111-1111.1111"])
def test_cards_in_any_grouping_go(card: str) -> None:
    assert scrub(f"card {card}.") == "card [card]."


@pytest.mark.parametrize(("text", "out"), [
    ("deliver to 221B Baker Street, London NW1 6XE", "deliver to [address], London [address]"),
    ("221b baker street london", "[address] london"),
    ("Hauptstraße 5, Berlin", "[address], Berlin"),
    ("Camping tent 2 person", "Camping tent 2 person"),
    ("SET OF 3 CAKE TINS", "SET OF 3 CAKE TINS"),
])
def test_street_addresses_go(text: str, out: str) -> None:
    assert scrub(text) == out


def test_only_values_many_customers_share_reach_a_prompt() -> None:
    entries = [{"value": "gold", "share": 0.5, "lift": 1.0, "customers": 60},
               {"value": "jo@example.com", "share": 0.01, "lift": 9.0, "customers": 1},
               {"value": "Ann Smith", "share": 0.01, "lift": 9.0}]  # no count: not sent
    assert shared_values(entries) == [{"value": "gold", "share": 0.5, "lift": 1.0}]
    assert shared_values(entries, min_customers=61) == []


def test_a_text_goes_only_when_enough_customers_share_it() -> None:
    assert shared_text({"text": "Tea light holder", "text_customers": 5}) == "Tea light holder"
    assert shared_text({"text": "gift for Ann Smith", "text_customers": 4}) == ""
    assert shared_text({"text": "gift for Ann Smith"}) == ""
    assert shared_text({"text": "mail jo@example.com", "text_customers": 50}) == "mail [email]"
