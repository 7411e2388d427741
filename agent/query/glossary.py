"""The glossary of business terms (data/glossary.yaml) and the thresholds its percentiles resolve to."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from segmint.agent.core.errors import InputError
from segmint.agent.core.files import cached_json
from segmint.agent.core.sql import fetch_one

Op = Literal[">", ">=", "<", "<=", "=", "!="]


class TermFilter(BaseModel):
    """One comparison a term stands for: against a fixed value or a percentile of the field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    op: Op
    value: float | None = None
    percentile: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_threshold(self) -> TermFilter:
        if (self.value is None) == (self.percentile is None):
            raise ValueError("give exactly one of value or percentile")
        return self


class Term(BaseModel):
    """A business term, its synonyms, its meaning in words and the filters it stands for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    synonyms: tuple[str, ...]
    meaning: str
    filters: tuple[TermFilter, ...]


class IntentTerm(BaseModel):
    """A campaign intent read as glossary terms ("win-back" is lapsed), with the reason shown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    synonyms: tuple[str, ...]
    terms: tuple[str, ...] = Field(min_length=1)
    why: str


class Glossary(BaseModel):
    """All terms, by key, and the campaign intents that stand for some of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    terms: dict[str, Term]
    intents: dict[str, IntentTerm] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _intents_name_terms(self) -> Glossary:
        for key, intent in self.intents.items():
            unknown = [t for t in intent.terms if t not in self.terms]
            if unknown:
                raise ValueError(f"intent '{key}' names unknown terms: {', '.join(unknown)}")
        return self

    def answerable(self, fields: set[str] | frozenset[str]) -> Glossary:
        """Only the terms whose every field is one of `fields` (a workspace without `--ltv` has no
        p_alive): a phrase may never be read as a term the workspace cannot answer."""
        terms = {k: t for k, t in self.terms.items() if all(f.field in fields for f in t.filters)}
        intents = {k: i for k, i in self.intents.items() if all(t in terms for t in i.terms)}
        return Glossary(terms=terms, intents=intents)

    def percentile_fields(self) -> set[tuple[str, float]]:
        """Every (field, percentile) pair some term needs."""
        return {(f.field, f.percentile) for t in self.terms.values() for f in t.filters
                if f.percentile is not None}


def load_glossary(path: Path | None = None) -> Glossary:
    """Load the packaged glossary, or a shop's own file with the same layout.

    Raises:
        InputError: unreadable or invalid file.
    """
    if path is None:
        return _packaged()
    import yaml  # a shop's own glossary is read with PyYAML; the packaged one from its cache

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return Glossary.model_validate(data)
    except OSError as exc:
        raise InputError(f"cannot read glossary: {exc.strerror}", file=path) from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise InputError(f"invalid glossary: {str(exc).splitlines()[0]}", file=path,
                         fix="follow the layout of the packaged data/glossary.yaml") from exc


@lru_cache(maxsize=1)
def _packaged() -> Glossary:
    text = resources.files("segmint.data").joinpath("glossary.yaml").read_text(encoding="utf-8")
    # Importing PyYAML alone cost each cold `ask` and `export` ~25 ms (bench/RESULTS.md "Cold
    # start"): the file's data is kept as JSON by its text, so an edited or upgraded file parses
    # afresh.
    return cached_json("glossary", text, lambda: _yaml(text), Glossary.model_validate)


def _yaml(text: str) -> Any:
    import yaml

    # libyaml's loader where PyYAML has it: the pure-Python one is slower; both read it alike.
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def percentile_thresholds(
    con: duckdb.DuckDBPyConnection, pairs: set[tuple[str, float]]
) -> dict[tuple[str, float], float]:
    """Percentiles over customers with at least one order (docs/definitions.md), numpy-style interpolation."""
    if not pairs:
        return {}
    ordered = sorted(pairs)
    exprs = ", ".join(
        f'quantile_cont("{field}", {pct / 100.0!r})' for field, pct in ordered
    )
    row = fetch_one(con.execute(f"SELECT {exprs} FROM users WHERE orders >= 1"))
    if row is None:
        return {}
    return {pair: (float(v) if v is not None else float("nan")) for pair, v in
            zip(ordered, row, strict=True)}
