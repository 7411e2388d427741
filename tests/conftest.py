"""Shared fixtures: workspaces and small event files written in every supported format."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One text-vector cache for the whole test session (and later sessions on the same machine), so
# only the first test that meets a text pays for embedding it.
os.environ.setdefault("SEGMINT_CACHE_DIR", str(Path(tempfile.gettempdir()) / "segmint-test-cache"))

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ONLINE_RETAIL = DATASETS / "online_retail" / "online_retail.csv.gz"
AMAZON = DATASETS / "amazon_user_histories" / "amazon_reviews_2023_user_histories.csv.gz"
ONLINE_RETAIL_MAP = [
    "--map", "user_id=CustomerID", "--map", "timestamp=InvoiceDate", "--map", "order_id=InvoiceNo",
    "--map", "product_id=StockCode", "--map", "text=Description", "--map", "quantity=Quantity",
    "--map", "price=UnitPrice", "--attr", "country=Country",
]

Rows = Sequence[dict[str, Any]]
WriteEvents = Callable[..., Path]


def write_rows(path: Path, rows: Rows, columns: Sequence[str] | None = None) -> Path:
    """Write rows as CSV / CSV.gz / JSONL / Parquet, chosen by the file's suffix."""
    cols = list(columns or dict.fromkeys(k for row in rows for k in row))
    name = path.name
    if name.endswith(".parquet"):
        table = pa.table({c: [None if r.get(c) is None else str(r[c]) for r in rows] for c in cols})
        pq.write_table(table, path)
    elif name.endswith(".jsonl"):
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({c: row[c] for c in cols if c in row}) + "\n")
    else:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "wt", newline="", encoding="utf-8") as fh:  # type: ignore[operator]
            writer = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({c: "" if row.get(c) is None else row[c] for c in cols})
    return path


@pytest.fixture
def write_events(tmp_path: Path) -> WriteEvents:
    """Write rows to `tmp_path/NAME` in the format its suffix names."""

    def _write(rows: Rows, name: str = "events.csv", columns: Sequence[str] | None = None) -> Path:
        return write_rows(tmp_path / name, rows, columns)

    return _write


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """An empty workspace directory."""
    return tmp_path / "ws"


def run_cli(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real `segmint` console entry point in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-m", "segmint.agent", *args],
        capture_output=True, text=True, timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"segmint {' '.join(args)} failed:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def online_retail(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One `segmint run` over the real Online Retail file for the whole session.

    Returns:
        The workspace directory and the run's JSON summary. Skips when the dataset is absent.
    """
    if not ONLINE_RETAIL.exists():
        pytest.skip("shared Online Retail dataset not present")
    ws = tmp_path_factory.mktemp("online-retail") / "ws"
    proc = run_cli("run", str(ONLINE_RETAIL), "-w", str(ws), *ONLINE_RETAIL_MAP, "--currency", "£",
                   "--json", check=True)
    return ws, json.loads(proc.stdout)


@pytest.fixture(scope="session")
def shop_with_users(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One `segmint run` over a 1,000-customer sample shop with its users file, for the session.

    Returns:
        The workspace directory and the events file (its `.users.csv` / `.labels.csv` lie beside it).
    """
    root = tmp_path_factory.mktemp("sample-shop")
    events = root / "shop.parquet"
    run_cli("synth", "--users", "1000", "--seed", "3", "-o", str(events), check=True)
    ws = root / "ws"
    run_cli("run", str(events), "--users", f"{events}.users.csv", "-w", str(ws), "--currency", "£",
            "--json", check=True)
    return ws, events


# The shop fixture family: every test that needs a workspace takes one of these (or the session-wide
# `online_retail` / `shop_with_users` above) instead of building its own.

def purchase_rows(users: int, *, seed: int, texts: Sequence[str], countries: Sequence[str] | None = None,
                  orders: tuple[int, int] = (1, 4), days: tuple[int, int] = (0, 300),
                  price_scale: float = 30.0, prefix: str = "u", hour: int = 12) -> list[dict[str, Any]]:
    """Purchases of a small shop in 2024: user i buys `texts[i % len]`, lives in `countries[i % len]`.

    Each user places `rng.integers(*orders)` orders on days drawn from `days`, at gamma(2, scale) prices.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        for k in range(int(rng.integers(*orders))):
            day = int(rng.integers(*days))
            row = {"user_id": f"{prefix}{u:03d}", "order_id": f"{u}-{k}", "event_type": "purchase",
                   "timestamp": f"2024-{1 + day // 31:02d}-{1 + day % 28:02d}T{hour:02d}:00:00Z",
                   "price": f"{rng.gamma(2, price_scale):.2f}", "text": texts[u % len(texts)]}
            if countries:
                row["country"] = countries[u % len(countries)]
            rows.append(row)
    return rows


def build_workspace(root: Path, rows: Rows, config: Any = None) -> Any:
    """`segmint run` over `rows` (written as CSV under `root`) into `root/ws`; returns the Workspace.

    Without a config, a `country` column is kept as an attribute (`--attr country=country`).
    """
    from segmint.agent.core.config import RunConfig
    from segmint.agent.core.workspace import Workspace
    from segmint.agent.run.pipeline import run

    if config is None:
        has_country = any("country" in r for r in rows)
        config = RunConfig.model_validate({"attr": {"country": "country"}} if has_country else {})
    run(root / "ws", [write_rows(root / "events.csv", rows)], config)
    return Workspace(root / "ws")


@pytest.fixture(scope="session")
def purchase_shop(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """Factory: the workspace of `purchase_rows(**kwargs)`, built once per set of arguments.

    Shared across the session, so tests must only read it.
    """
    built: dict[str, Any] = {}

    def make(**kwargs: Any) -> Any:
        key = json.dumps(kwargs, sort_keys=True, default=str)
        if key not in built:
            built[key] = build_workspace(tmp_path_factory.mktemp("purchase-shop"), purchase_rows(**kwargs))
        return built[key]

    return make


@pytest.fixture(scope="session")
def sample_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample shop (`segmint synth`, 1,500 customers, seed 0, its users file, £) after a run."""
    from segmint.agent.core.config import load_config
    from segmint.agent.core.workspace import Workspace
    from segmint.agent.run.pipeline import run
    from segmint.data.synth import generate

    root = tmp_path_factory.mktemp("sample-shop-1500")
    shop = generate(1500, root / "shop.parquet", seed=0)
    run(Workspace(root / "ws"), [root / "shop.parquet"],
        load_config(None, users=shop.users_path, currency="£"))
    return root / "ws"


BLOB_DIM = 48


def blobs(sizes: list[int], *, spread: float = 0.6, seed: int = 0, dim: int = BLOB_DIM
          ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Unit vectors around random unit centres (one group per size), shuffled."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(sizes), dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    X = np.concatenate([c + spread * rng.standard_normal((n, dim)) / np.sqrt(dim)
                        for c, n in zip(centres, sizes, strict=True)])
    y = np.repeat(np.arange(len(sizes)), sizes)
    order = rng.permutation(len(y))
    X = X[order] / np.linalg.norm(X[order], axis=1, keepdims=True)
    return X.astype(np.float32), y[order]
