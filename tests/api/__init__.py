"""The REST API and the web app (a package, so its conftest.py does not shadow tests/conftest.py)."""
