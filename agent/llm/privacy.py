"""Privacy for LLM calls: scrub personal data from text before it leaves, and log every call.

Customer texts (search queries, product titles, reviews) can carry e-mail addresses, phone
numbers, card numbers and the like. `scrub` replaces them with placeholders such as `[email]`
before any text is put into a prompt. The placeholders are stable, so a model still sees that
something was there.

Every model call is logged to `WORKSPACE/llm_calls.jsonl` by `call_log.CallLog` (sizes and
timing, never the prompt or the response); `read_call_log` reads it back. This module imports no
LangChain: the commands that only scrub or read the log never load it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segmint.agent.core.patterns import compiled

CALL_LOG_NAME = "llm_calls.jsonl"

# Every character RFC 5322 allows unquoted in a local part, so odd but valid addresses go too.
# Every repetition is bounded (local part 64, label 63, as the RFCs do): an unbounded run would
# make the scan quadratic on long texts without an address in them.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = compiled(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@" + _LABEL + r"(?:\." + _LABEL + r"){1,8}")
_AT = r"(?:\s{0,3}[(\[{]at[)\]}]\s{0,3}|\s{1,3}at\s{1,3})"
_DOT = r"(?:\s{0,3}[(\[{]dot[)\]}]\s{0,3}|\s{1,3}dot\s{1,3})"
_WORD = r"[\w+-]{1,64}+"
# Spaces belong to the spelled separators only and words are possessive (a word never ends
# inside a run of word characters), so the regex does not backtrack on long texts.
_EMAIL_SPELLED = compiled(
    r"\b" + _WORD + r"(?:\." + _WORD + r"){0,4}(?:" + _DOT + _WORD + r"){0,4}" + _AT
    + r"[\w-]{1,63}(?:" + _DOT + r"[\w-]{1,63}){1,4}",
    re.IGNORECASE,
)
_IBAN = compiled(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{1,4}){3,8}\b", re.IGNORECASE)
# Any grouping a card is written in: spaces, dashes, dots or slashes (4111.1111.1111.1111).
_CARD = compiled(r"(?<![\d./-])\d(?:[ ./-]?\d){12,18}(?![\d-])(?![./]\d)")
_SSN = compiled(r"\b\d{3}-\d{2}-\d{4}\b")
_NINO = compiled(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", re.IGNORECASE)
_IPV4 = compiled(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
# A house number, one to four words and a street word ("221B Baker Street"), or a German street
# ("Hauptstraße 5"). A false hit costs a placeholder; a miss would send an address.
_STREET_WORDS = ("street|st|road|rd|avenue|ave|lane|ln|drive|boulevard|blvd|terrace|crescent|highway"
                 "|hwy|parkway")
_STREET = compiled(
    r"\b\d{1,5}[A-Za-z]?(?:[-/]\d{1,4})?,?\s+(?:[A-Za-z][\w'.-]{0,30}\s+){1,4}(?:" + _STREET_WORDS
    + r")\b\.?|\b[A-Za-zÄÖÜäöüß-]{2,40}(?:stra(?:ss|ß)e|str\.|weg|gasse)\s+\d{1,4}[a-z]?\b",
    re.IGNORECASE)
# UK postcodes ("NW1 6XE"); written in capitals, as addresses write them.
_POSTCODE = compiled(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) ?\d[ABD-HJLNP-UW-Z]{2}\b")
# Candidates only; `_phone` keeps those with 9-15 digits (E.164) that are not a plain decimal.
_PHONE = compiled(r"(?<![\w+.,/:-])(?:\+|00)?\(?\d[\d ()./-]{6,24}\d(?![\w:])(?!\.\d)(?!,\d)")


@dataclass(frozen=True)
class Scrubbed:
    """A scrubbed text and what was removed from it.

    Attributes:
        text: the text with personal data replaced by placeholders.
        found: placeholder kind -> how many were replaced.
    """

    text: str
    found: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """How many items were replaced."""
        return sum(self.found.values())


def scrub(text: str) -> str:
    """Replace e-mail addresses, phone numbers, card numbers, IBANs, national ids and street
    addresses in a text.

    Args:
        text: any text that is about to go into a prompt.

    Returns:
        The text with `[email]`, `[iban]`, `[card]`, `[id]`, `[ip]`, `[address]` and `[phone]`
        placeholders.
    """
    return scrub_report(text).text


def scrub_report(text: str) -> Scrubbed:
    """`scrub`, also counting what was replaced (for logs and tests)."""
    found: dict[str, int] = {}
    for kind, pattern, check in _RULES:
        text = pattern.sub(_replacer(kind, check, found), text)
    return Scrubbed(text, found)


def scrub_value(value: Any) -> Any:
    """Scrub every string inside nested dicts, lists and tuples (keys are left alone)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(v) for v in value)
    return value


def pii_count(text: str) -> int:
    """How many personal data items `scrub` would replace in a text."""
    return scrub_report(text).total


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """ISO 13616 check: length 15-34 and the mod-97 checksum."""
    s = re.sub(r"[ -]", "", candidate).upper()
    if not (15 <= len(s) <= 34 and s[:2].isalpha() and s[2:4].isdigit() and s.isalnum()):
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _card(match: str) -> str | None:
    digits = re.sub(r"\D", "", match)
    return match if 13 <= len(digits) <= 19 and luhn_valid(digits) else None


def _iban(match: str) -> str | None:
    # The pattern can swallow a following word ("... 32 and"); the longest valid prefix is the IBAN.
    groups = re.split(r"(?<=[ -])", match)
    for end in range(len(groups), 0, -1):
        prefix = "".join(groups[:end]).rstrip(" -")
        if iban_valid(prefix):
            return prefix
    return None


def _phone(match: str) -> str | None:
    digits = re.sub(r"\D", "", match)
    if not 9 <= len(digits) <= 15:
        return None
    if re.fullmatch(r"\d+[.]\d{1,2}", match):  # a price, not a phone
        return None
    if re.search(r"[ ()./-]{3,}", match):  # runs of separators: a list of numbers, not one phone
        return None
    groups = [g for g in re.split(r"[ ()./-]+", match.lstrip("+")) if g]
    if len(groups) == 1 and not match.startswith(("+", "0")) and len(digits) < 10:
        return None  # a bare 9-digit number is more likely an amount or an id than a phone
    if len(groups) > 6 or sum(len(g) == 1 for g in groups) > 1:
        return None  # "1 2 3 4 5 6 7 8 9": counting, not dialling
    return match


def _whole(match: str) -> str | None:
    return match


Check = Callable[[str], "str | None"]
# Order matters: an IBAN or card number also looks like a phone number to the phone pattern.
_RULES: tuple[tuple[str, re.Pattern[str], Check], ...] = (
    ("email", _EMAIL, _whole),
    ("email", _EMAIL_SPELLED, _whole),
    ("iban", _IBAN, _iban),
    ("card", _CARD, _card),
    ("id", _SSN, _whole),
    ("id", _NINO, _whole),
    ("ip", _IPV4, _whole),
    ("address", _STREET, _whole),
    ("address", _POSTCODE, _whole),
    ("phone", _PHONE, _phone),
)


def _replacer(kind: str, check: Check, found: dict[str, int]) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        hit = check(m.group(0))
        if hit is None:
            return m.group(0)
        found[kind] = found.get(kind, 0) + 1
        return f"[{kind}]" + m.group(0)[len(hit):]

    return replace


# ---------------------------------------------------------------------------------------------
# Aggregates only: what a prompt may hold about customers

# A value or text reaches a prompt only when this many customers share it, so no prompt can
# single anyone out: an e-mail or a full name is held by one customer, a product title by many.
MIN_VALUE_CUSTOMERS = 20
MIN_TEXT_CUSTOMERS = 5


def shared_values(entries: list[dict[str, Any]], min_customers: int = MIN_VALUE_CUSTOMERS
                  ) -> list[dict[str, Any]]:
    """The attribute values a prompt may show: those held by at least `min_customers` customers.

    Args:
        entries: a profile's entries for one attribute (value, share, lift, and `customers`: how
            many customers of the shop hold the value). An entry without `customers` is dropped:
            an unknown count is not a safe one.
        min_customers: the smallest group a value may describe.

    Returns:
        The shared entries, value scrubbed and the count left out (it is not a fact to quote).
    """
    return [{k: (scrub(str(v)) if k == "value" else v) for k, v in e.items() if k != "customers"}
            for e in entries if int(e.get("customers") or 0) >= min_customers]


def shared_text(item: dict[str, Any], min_customers: int = MIN_TEXT_CUSTOMERS) -> str:
    """An item's text if at least `min_customers` distinct customers have that exact text, else "".

    Args:
        item: a profile or recommendation item with `text` and `text_customers` (distinct
            customers with that text); without the count the text is not sent.
        min_customers: how many customers must share the text.
    """
    text = str(item.get("text") or "")
    return scrub(text) if text and int(item.get("text_customers") or 0) >= min_customers else ""


# ---------------------------------------------------------------------------------------------
# Call log


def call_log_path(workspace_dir: str | Path) -> Path:
    """Where a workspace's LLM call log lives."""
    return Path(workspace_dir) / CALL_LOG_NAME


def read_call_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a call log (empty when there is none)."""
    p = Path(path)
    if p.is_dir():
        p = call_log_path(p)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
