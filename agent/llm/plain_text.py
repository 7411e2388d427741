"""The one check of LLM-written text: bounded, plain prose (docs/architecture.md, privacy).

What a model writes ends up in the workspace, in exports and on the web page. Whatever it says is
data, so a segment name or a brief field is accepted only as a short run of plain words: no
markup, no links, no code or SQL, no text that reads like an instruction to a model, no control
characters. The checks are deliberately blunt: a false rejection costs one repair turn or the
built-in text; a false acceptance stores an attack as a "verified" name.
"""

from __future__ import annotations

import re

MAX_NAME_CHARS = 60
MAX_DESCRIPTION_CHARS = 600
MAX_FIELD_CHARS = 600  # a brief field
MAX_PHRASE_CHARS = 120  # a key trait or a suggested action

# (what it is, pattern). Case-insensitive; each is bounded so long texts scan in linear time.
_PATTERNS = (
    ("markup", r"<[/!?]?[a-z]|&#?\w{1,10};|\]\(|\*\*|__|^\s{0,3}#{1,6}\s"),
    ("a link", r"\b(?:https?|ftp|file|javascript|data|mailto)\s{0,3}:|\bwww\.|"
               r"\b[\w-]{1,63}\.(?:com|net|org|io|co|uk|de|ru|info|biz|xyz|app|dev|ly|me|tk)\b"),
    ("code", r"[`{}\\]|=>|&&|\|\||\$\(|\b(?:eval|exec|alert|prompt|confirm|fetch|require)\(|"
             r"\b(?:def|function)\s{1,3}\w{1,40}\(|\blambda\s{0,3}\w{0,10}\s{0,3}:|\b(?:document|window)\.\w|"
             r"<\?php|#!/|\bimport\s{1,3}[a-z_]{1,40}\s{0,3}(?:$|;)"),
    ("SQL", r"\b(?:drop|truncate|alter)\s{1,5}(?:table|database|schema)\b|\bdelete\s{1,5}from\b|"
            r"\binsert\s{1,5}into\b|\bunion\s{1,5}(?:all\s{1,5})?select\b|\bselect\s{1,5}\*|"
            r"\bselect\b[^.]{1,80}\bfrom\s{1,5}(?:users|customers|events|information_schema)\b|"
            r"\bupdate\s{1,5}\w{1,40}\s{1,5}set\s{1,5}\w{1,40}\s{0,3}=|'\s{0,3}\)\s{0,3};|;\s{0,3}--|"
            r"\bor\s{1,3}'?1'?\s{0,3}=\s{0,3}'?1\b|\bxp_\w"),
    ("an instruction", r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}?"
                       r"\b(?:instructions?|rules|prompts?|guidelines|directions)\b|"
                       r"\bsystem\s{0,3}prompt\b|\byou\s{1,3}are\s{1,3}now\b|\bnew\s{1,3}instructions\b|"
                       r"\bjailbreak|\bdo\s{1,3}anything\s{1,3}now\b|\bas\s{1,3}an\s{1,3}ai\b|"
                       r"\b(?:assistant|system|user)\s{0,3}:"),
)
_FORBIDDEN = tuple((what, re.compile(p, re.IGNORECASE)) for what, p in _PATTERNS)
# Control characters, and the invisible ones that hide or reorder text (bidi overrides, zero width).
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def plain_text_problems(text: str, what: str, max_chars: int, *, one_line: bool = True) -> list[str]:
    """What keeps a piece of LLM text from being stored (empty when it is plain and short enough).

    Args:
        text: the text as the model wrote it.
        what: how a problem names it ("the name", "the offer").
        max_chars: the most characters it may have.
        one_line: line breaks are a problem too (names, phrases, brief fields).

    Returns:
        One problem per kind found, worded for the repair turn (the text itself is never quoted,
        so a hostile answer is not sent back to the model or into a reason).
    """
    problems = []
    if len(text) > max_chars:
        problems.append(f"{what} has {len(text):,} characters; use at most {max_chars}")
        text = text[: max_chars * 2]  # enough to name what else is wrong, bounded scan time
    if _INVISIBLE.search(text) or (one_line and re.search(r"[\r\n]", text)):
        problems.append(f"{what} holds control characters or line breaks")
    problems += [f"{what} holds {kind}; write plain words only" for kind, pattern in _FORBIDDEN
                 if pattern.search(text)]
    return problems
