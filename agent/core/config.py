"""Run settings: from a YAML file (`--config`) and command-line flags, flags winning."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from segmint.agent.core.errors import InputError
from segmint.agent.core.schema import CANONICAL_COLUMNS


class RunConfig(BaseModel):
    """Everything a `segmint run` needs besides the event files themselves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column_map: dict[str, str] = Field(default_factory=dict, alias="map")
    attributes: dict[str, str] = Field(default_factory=dict, alias="attr")
    users: Path | None = None
    as_of: datetime | None = None
    timestamp_format: str | None = None
    encoding: str | None = None  # of CSV / JSON Lines files; None: UTF-8, or UTF-16 by its BOM
    event_types: dict[str, str] = Field(default_factory=dict)
    segments: int | None = None
    min_segment_size: int | None = None
    embedder: str = "minilm"
    llm: str = "builtin"
    seed: int = 0
    currency: str = Field(default="", max_length=4)
    reducer: Literal["spectral", "pca", "none", "autoencoder"] = "spectral"
    ltv: bool = False  # lifetime value and churn (agent/ltv.py; needs segmint[ltv])

    @field_validator("column_map")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        for canon in value:
            if canon not in CANONICAL_COLUMNS:
                raise ValueError(
                    f"unknown column '{canon}' in map; canonical columns are "
                    + ", ".join(CANONICAL_COLUMNS)
                )
        return value

    @field_validator("attributes")
    @classmethod
    def _attribute_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name.isidentifier() or not name.islower():
                raise ValueError(f"attribute name '{name}' must be lower_snake_case")
        return value


def parse_pairs(pairs: list[str], flag: str) -> dict[str, str]:
    """Parse repeated `KEY=VALUE` flags into a dict.

    Raises:
        InputError: when an item has no `=`.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(
                f"'{pair}' is not KEY=VALUE", field=flag, fix=f"write it as {flag} NAME=SOURCE"
            )
        out[key.strip()] = value.strip()
    return out


def load_config(path: Path | None, **overrides: Any) -> RunConfig:
    """Build a RunConfig from an optional YAML file plus non-empty overrides.

    Args:
        path: a YAML file with the same keys as the flags (map, attr, users, as_of, ...).
        **overrides: values from the command line; None and empty collections are ignored, dicts
            are merged over the file's.

    Raises:
        InputError: unreadable file, bad YAML, or an invalid setting (named).
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"cannot read config: {exc.strerror}", file=path) from exc
        except yaml.YAMLError as exc:
            raise InputError("not valid YAML", file=path, fix="check indentation and quoting") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise InputError("expected a mapping of settings at the top level", file=path)
        data = {str(k).replace("-", "_"): v for k, v in loaded.items()}
        if data.get("users") is not None:
            users = Path(data["users"])
            data["users"] = users if users.is_absolute() else Path(path).parent / users
    for key, value in overrides.items():
        if value is None or (isinstance(value, dict | list) and not value):
            continue
        name = {"column_map": "map", "attributes": "attr"}.get(key, key)
        if isinstance(value, dict) and isinstance(data.get(name), dict):
            value = {**data[name], **value}
        data[name] = value
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        raise InputError(
            err["msg"].removeprefix("Value error, "),
            file=path if path is not None else "command line",
            field=where,
            kind="setting",
            fix="see docs/definitions.md / README 'Configuration'",
        ) from exc
