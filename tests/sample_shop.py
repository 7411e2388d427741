"""The sample shop as a workspace, built once per test session and shared by the web/API tests."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

SHOP_USERS = 1500


def sample_shop(tmp_path_factory: pytest.TempPathFactory, users: int = SHOP_USERS) -> Path:
    """A workspace of `segmint synth` (`users` customers, seed 0) after `segmint run`.

    Modules that call this share one build: it lives in the session's base temp directory and is
    made under a file lock, so the second caller reuses the first one's workspace.
    """
    from segmint.agent.core.config import load_config
    from segmint.agent.core.workspace import Workspace
    from segmint.agent.run.pipeline import run
    from segmint.data.synth import generate

    root = tmp_path_factory.getbasetemp() / f"sample-shop-{users}"
    root.mkdir(exist_ok=True)
    ws = root / "ws"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not Workspace(ws).exists():
            shop = generate(users, root / "shop.parquet", seed=0)
            run(Workspace(ws), [root / "shop.parquet"],
                load_config(None, users=shop.users_path, currency="£"))
    return ws
