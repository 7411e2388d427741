"""The persona catalogue: reading and validating ``personas.yaml``, and machine-made typos."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from segmint.data.synth._shop import AGE_BANDS, GENDERS, MIXED_LABEL, Persona


def _parse_product(line: str) -> tuple[str, float]:
    title, sep, price = line.rpartition(" | ")
    if not sep or not title.strip():
        raise ValueError(f"product line {line!r} is not 'Title | price'")
    return title.strip(), float(price)


_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbour(ch: str, rng: np.random.Generator) -> str:
    for row in _KEYBOARD_ROWS:
        i = row.find(ch.lower())
        if i >= 0:
            options = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
            return options[int(rng.integers(len(options)))]
    return ch


def make_typo(query: str, variant: int = 0) -> str:
    """Misspell a query the way people do: swap, drop, double or fat-finger one letter.

    The mistake depends only on the query text (and ``variant``), so the catalogue is the same on
    every run.

    Args:
        query: A search query.
        variant: Another number gives another (possibly the same) mistake for the same text.

    Returns:
        A misspelt variant (the query itself if it has no letter to damage).
    """
    letters = [i for i, ch in enumerate(query) if ch.isalpha()]
    if len(letters) < 3:
        return query
    salt = f"{variant}\0".encode() if variant else b""
    rng = np.random.default_rng(zlib.crc32(salt + query.encode()))
    i = letters[int(rng.integers(1, len(letters)))]
    op = int(rng.integers(4))
    if op == 0 and i + 1 < len(query) and query[i + 1].isalpha() and query[i + 1] != query[i]:
        return query[:i] + query[i + 1] + query[i] + query[i + 2 :]
    if op == 1:
        return query[:i] + query[i + 1 :]
    if op == 2:
        return query[:i] + query[i] + query[i:]
    return query[:i] + _neighbour(query[i], rng) + query[i + 1 :]


def _check_text(text: str, where: str) -> None:
    # JSON Lines output splices catalogue text between quotes without escaping.
    if not text or any(ch in text for ch in '"\\') or not text.isprintable():
        raise ValueError(f"{where}: {text!r} must be non-empty printable text without '\"' or '\\'")


def _persona_from(raw: dict[str, Any]) -> Persona:
    products = tuple(_parse_product(str(p)) for p in raw["products"])
    queries = tuple(str(q) for q in raw["queries"])
    return Persona(
        name=str(raw["name"]),
        category=str(raw["category"]),
        price_level=str(raw["price_level"]),
        weight=float(raw["weight"]),
        cadence_days=float(raw["cadence_days"]),
        return_rate=float(raw["return_rate"]),
        age=tuple(float(x) for x in raw["age"]),
        gender=tuple(float(x) for x in raw["gender"]),
        related=tuple(str(r) for r in raw["related"]),
        products=products,
        queries=queries,
        typos=(),
    )


def _with_typos(personas: list[Persona]) -> tuple[Persona, ...]:
    taken = {t for p in personas for t, _ in p.products} | {q for p in personas for q in p.queries}
    out = []
    for p in personas:
        typos = []
        for q in p.queries:
            typo = make_typo(q)
            if typo not in taken:
                taken.add(typo)
                typos.append(typo)
        out.append(Persona(**{**p.__dict__, "typos": tuple(typos)}))
    return tuple(out)


def _validate(personas: Sequence[Persona]) -> None:
    names = [p.name for p in personas]
    if len(set(names)) != len(names) or MIXED_LABEL in names:
        raise ValueError(f"persona names must be unique and not {MIXED_LABEL!r}: {names}")
    if len({p.category for p in personas}) != len(personas):
        raise ValueError("each persona needs its own category")
    seen: dict[str, str] = {}
    for p in personas:
        if len(p.age) != len(AGE_BANDS) or len(p.gender) != len(GENDERS):
            raise ValueError(f"{p.name}: age needs {len(AGE_BANDS)} weights, gender {len(GENDERS)}")
        if not p.products or not p.queries or not set(p.related) <= set(names):
            raise ValueError(f"{p.name}: needs products, queries and known related personas")
        if not p.weight > 0 or not p.cadence_days > 0 or not 0 <= p.return_rate < 1:
            raise ValueError(f"{p.name}: weight and cadence_days > 0, 0 <= return_rate < 1")
        for text in [t for t, _ in p.products] + list(p.queries):
            _check_text(text, p.name)
            if text in seen:
                raise ValueError(f"{text!r} appears in both {seen[text]} and {p.name}")
            seen[text] = p.name
        if any(price <= 0 for _, price in p.products):
            raise ValueError(f"{p.name}: prices must be positive")


def load_personas(path: Path | None = None) -> tuple[Persona, ...]:
    """Read and validate a persona catalogue.

    Args:
        path: A YAML file shaped like the packaged ``personas.yaml``; the packaged file
            when None.

    Returns:
        The personas in file order, each with its machine-made typos filled in.

    Raises:
        ValueError: If the catalogue is inconsistent (duplicate texts, unknown related
            persona, wrong number of weights...).
    """
    if path is None:
        text = resources.files("segmint.data").joinpath("personas.yaml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    raw = yaml.safe_load(text)
    personas = [_persona_from(r) for r in raw["personas"]]
    _validate(personas)
    return _with_typos(personas)
