"""One customer's view: features, segment and the reason they are in it (docs/definitions.md "Why")."""

from __future__ import annotations

import contextlib
import math
import re
from datetime import date, datetime
from typing import Any

from segmint.agent.core.errors import InputError
from segmint.agent.core.records import read_latest_run, read_segment
from segmint.agent.core.sql import fetch_one
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.why import describe_customer, segment_reasons
from segmint.embeddings import UserIndex


def normalise_user_id(user_id: str) -> str:
    """Apply ingest's id normalisation (`17850.0` -> `17850`) to an id typed by a user."""
    value = user_id.strip()
    return re.sub(r"^(-?[0-9]+)\.0+$", r"\1", value)


def get_user(workspace: Workspace, user_id: str) -> dict[str, Any]:
    """The `segmint user` document for one customer.

    Raises:
        InputError: the customer is not in the workspace.
    """
    uid = normalise_user_id(user_id)
    with contextlib.closing(workspace.reader()) as con:
        cur = con.execute("SELECT * FROM users WHERE user_id = ?", [uid])
        row = fetch_one(cur)
        if row is None:
            raise InputError(
                f"customer '{user_id}' not found in {workspace.path}",
                fix="check the id (ids are compared as text, e.g. 17850 or 000123)",
            )
        features = {d[0]: _jsonable(value) for d, value in zip(cur.description or [], row, strict=True)}
        latest = read_latest_run(con)
        seg_id = features.get("segment_id")
        found = None if seg_id is None else read_segment(con, seg_id)
        reason = segment_reasons(con, [uid]).get(uid) if found is not None else None
    features.pop("user_id")
    segment = None
    why = describe_customer(features, latest.currency if latest else "", reason=reason)
    features.pop("segment_id", None)
    membership = features.pop("membership", None)
    features.pop("nearest_segment_id", None)
    if seg_id is not None:
        segment = {"id": str(seg_id), "name": found.name if found else None,
                   "membership": membership}
    return {
        "user_id": uid,
        "features": features,
        "segment": segment,
        "why": why,
        "reason": None if reason is None else reason.to_json(),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float):
        return round(value, 6)
    return value


def similar_customers(workspace: Workspace, user_id: str, k: int = 10) -> dict[str, Any]:
    """The `segmint similar` document: the k customers whose histories are closest.

    Raises:
        InputError: unknown customer, or one without any text to compare.
    """
    uid = normalise_user_id(user_id)
    path = workspace.current_files() / "user_index"
    if not path.exists():
        raise InputError(f"{workspace.path} has no customer vectors yet",
                         fix="run `segmint run` again with this version of segmint")
    index = UserIndex.load(path)
    if uid not in index:
        get_user(workspace, uid)  # raises the not-found error for unknown customers
        raise InputError(f"customer '{uid}' has no searched, viewed or bought texts to compare",
                         fix="lookalikes need product titles or search queries in the events")
    return {"user_id": uid,
            "similar": [{"user_id": u, "score": round(float(s), 4)} for u, s in index.similar(uid, k)]}
