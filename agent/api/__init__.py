"""The REST API and the web page (`segmint serve`): a thin FastAPI layer over the library."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.api.app import create_app, warm_up

__all__ = ["create_app", "warm_up"]

lazy_package(__name__, {
    "app": ("create_app", "warm_up"),
})
