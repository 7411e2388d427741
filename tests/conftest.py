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
