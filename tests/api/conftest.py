"""The web app's browser fixtures: `segmint serve` in its own process and a logged-in page in a real
headless Chromium (Debian's), shared by test_web.py and test_web_audiences.py.

The browser may reach nothing but the local server: every other request is blocked and recorded,
so the tests also show that the page works offline. A module picks the workspace it serves by
defining its own `shop` fixture (the sample shop by default).

tests/api is a package (its `__init__.py`), so this file is imported as `api.conftest` and never
shadows tests/conftest.py, which the test modules import as `conftest`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
HAS_CHROMIUM = CHROMIUM.exists() and shutil.which("chromium") is not None
TOKEN = "web-test-token"
NO_CHROMIUM = "Debian's chromium is not installed (.ci/run installs it)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def shop(sample_workspace: Path) -> Path:
    """The workspace `server` serves (a module may define its own)."""
    return sample_workspace


@pytest.fixture(scope="module")
def server(shop: Path) -> Iterator[str]:
    """`segmint serve` in its own process, with the token from SEGMINT_TOKEN; yields its base URL."""
    port = free_port()
    env = {**os.environ, "SEGMINT_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "segmint.agent", "serve", "-w", str(shop),
                             "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"segmint serve exited: {proc.stdout.read() if proc.stdout else ''}")
            with contextlib.suppress(httpx.HTTPError):
                res = httpx.get(f"{base}/api/summary", headers={"Authorization": f"Bearer {TOKEN}"})
                if res.status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("segmint serve did not answer within 240 s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser_page(server: str) -> Iterator[tuple[Any, list[str]]]:
    """A logged-in page (the token typed into the page) and the list of blocked outside requests."""
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)

        def route(r: Any) -> None:
            url = r.request.url
            if url.startswith((server, "data:", "blob:")):
                r.continue_()
            else:
                blocked.append(url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server)
        page.wait_for_selector("#token-bar:not(.hidden)")
        page.fill("#token-input", TOKEN)
        page.click("#token-save")
        page.wait_for_selector("[data-testid=segment-card]", state="attached")
        yield page, blocked
        assert not errors, errors
        browser.close()


def fresh(page: Any) -> None:
    """Start a new question (not a follow-up of an earlier test's answer)."""
    page.click(".tab[data-view=ask]")
    page.evaluate("document.getElementById('context-clear').click()")


def shot(page: Any, name: str, folder: Path) -> Path:
    """A full-page screenshot `folder/NAME.png`, the toast hidden."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.evaluate("document.getElementById('toast').classList.add('hidden')")
    page.screenshot(path=str(path), full_page=True)
    return path
