"""The REST API and the web page (`segmint serve`): a thin FastAPI layer over the library."""

from segmint.agent.api.app import create_app, warm_up

__all__ = ["create_app", "warm_up"]
