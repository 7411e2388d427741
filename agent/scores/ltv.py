"""Lifetime value and churn: BG/NBD (expected purchases, probability of being alive) and
Gamma-Gamma (expected spend per purchase) per customer, fitted on the shop's own purchases with
pymc-marketing (maximum a posteriori), stored in `ltv_scores` (readers see them in `users`).

Purchases are counted per day, the models' usual convention: a customer's `frequency` is the
number of days with a purchase after their first one, `recency` the days from the first to the
last purchase day, `T` the days from the first purchase day to `as_of`, `monetary` the mean value
of their repeat purchase days. Columns written (customers without a purchase get NULL):

- `expected_purchases`: expected purchase days in the next HORIZON_DAYS;
- `p_alive`: probability the customer is still active (BG/NBD);
- `expected_spend`: expected value of one purchase day (Gamma-Gamma; the shop's prior mean for
  customers with no repeat purchase);
- `expected_value`: expected_purchases x expected_spend (value over the horizon).

pymc-marketing is an optional dependency (`pip install segmint[ltv]`): it takes seconds to import
and compiles its model on the first fit, so the step runs only with `segmint run --ltv`.
"""

from __future__ import annotations

import logging
import time
import uuid
import warnings
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from segmint.agent.core.errors import UsageError
from segmint.agent.core.schema import LTV_SCORES
from segmint.agent.core.sql import sql_str

__all__ = ["HORIZON_DAYS", "LTV_COLUMNS", "LtvReport", "Predictions", "Summary", "available",
           "fit_predict", "holdout", "score_ltv", "summarise"]

HORIZON_DAYS = 90
LTV_COLUMNS = LTV_SCORES.column_names[1:]


@dataclass
class Summary:
    """Per-customer purchase summary (days), aligned arrays."""

    user_ids: list[str]
    frequency: npt.NDArray[np.float64]
    recency: npt.NDArray[np.float64]
    T: npt.NDArray[np.float64]
    monetary: npt.NDArray[np.float64]


@dataclass
class LtvReport:
    """What the lifetime-value step did: customers scored, horizon, fitted parameters, seconds."""

    customers: int
    horizon_days: int
    params: dict[str, float]
    seconds: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        """The `ltv` counts of the run."""
        return asdict(self)


@dataclass
class Predictions:
    """What the fitted models say about each customer of a Summary."""

    expected_purchases: npt.NDArray[np.float64]
    p_alive: npt.NDArray[np.float64]
    expected_spend: npt.NDArray[np.float64]
    params: dict[str, float]
    seconds: dict[str, float]

    @property
    def expected_value(self) -> npt.NDArray[np.float64]:
        """Expected value over the horizon."""
        return self.expected_purchases * self.expected_spend


def available() -> str | None:
    """None when pymc-marketing can be imported, else why not."""
    try:
        import pymc_marketing.clv  # noqa: F401
    except ImportError as exc:
        return f"pymc-marketing is not installed ({exc.name}); pip install 'segmint[ltv]'"
    return None


def summarise(con: duckdb.DuckDBPyConnection, as_of: datetime, *, start: datetime | None = None
              ) -> Summary:
    """Purchase-day summary of every customer with a purchase before `as_of` (and at/after
    `start`, when given), from the `events` table."""
    bounds = f"ts < {sql_str(as_of.isoformat(sep=' '))}"
    if start is not None:
        bounds += f" AND ts >= {sql_str(start.isoformat(sep=' '))}"
    end_day = f"CAST(TIMESTAMP {sql_str(as_of.isoformat(sep=' '))} AS DATE)"
    data = con.execute(f"""
        WITH days AS (
            SELECT user_id, CAST(ts AS DATE) AS day, sum(coalesce(amount, 0)) AS value
            FROM events WHERE event_type = 'purchase' AND {bounds} GROUP BY 1, 2
        ),
        firsts AS (SELECT user_id, min(day) AS first_day FROM days GROUP BY 1)
        SELECT d.user_id, count(*) - 1 AS frequency,
               date_diff('day', min(d.day), max(d.day)) AS recency,
               date_diff('day', any_value(f.first_day), {end_day}) AS t,
               coalesce(avg(d.value) FILTER (WHERE d.day > f.first_day), 0) AS monetary
        FROM days d JOIN firsts f USING (user_id) GROUP BY d.user_id ORDER BY d.user_id
    """).fetchnumpy()
    return Summary(user_ids=[str(u) for u in data["user_id"]],
                   frequency=np.asarray(data["frequency"], dtype=np.float64),
                   recency=np.asarray(data["recency"], dtype=np.float64),
                   T=np.maximum(np.asarray(data["t"], dtype=np.float64), 1.0),
                   monetary=np.asarray(data["monetary"], dtype=np.float64))


def fit_predict(summary: Summary, horizon_days: float = HORIZON_DAYS) -> Predictions:
    """Fit BG/NBD and Gamma-Gamma (MAP) on a summary and predict for every customer in it.

    Raises:
        UsageError: pymc-marketing is not installed, or there are too few customers to fit.
    """
    problem = available()
    if problem is not None:
        raise UsageError(f"lifetime value needs {problem}")
    if len(summary.user_ids) < 10 or int((summary.frequency > 0).sum()) < 5:
        raise UsageError("lifetime value needs at least 10 buyers, 5 of them repeat buyers")
    import pandas as pd  # noqa: PLC0415  (comes with the optional ltv extra)

    logging.getLogger("pymc").setLevel(logging.ERROR)
    logging.getLogger("pytensor").setLevel(logging.ERROR)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

    seconds["import"] = round(time.perf_counter() - start, 3)
    ids = np.arange(len(summary.user_ids))
    frame = pd.DataFrame({"customer_id": ids, "frequency": summary.frequency,
                          "recency": summary.recency, "T": summary.T,
                          "monetary_value": summary.monetary})
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = BetaGeoModel(data=frame[["customer_id", "frequency", "recency", "T"]])
        bg.fit(method="map", progressbar=False)
        purchases = _values(bg.expected_purchases(data=frame, future_t=horizon_days))
        alive = _values(bg.expected_probability_alive(data=frame))
        repeat = frame[(frame["frequency"] > 0) & (frame["monetary_value"] > 0)]
        gg = GammaGammaModel(data=repeat[["customer_id", "monetary_value", "frequency"]])
        gg.fit(method="map", progressbar=False)
        spend = _values(gg.expected_customer_spend(data=frame))
    seconds["fit_predict"] = round(time.perf_counter() - start, 3)
    params = {f"bgnbd_{k}": float(v) for k, v in _map_params(bg).items()}
    params |= {f"gamma_gamma_{k}": float(v) for k, v in _map_params(gg).items()}
    return Predictions(purchases, np.clip(alive, 0.0, 1.0), spend, params, seconds)


def _values(array: Any) -> npt.NDArray[np.float64]:
    """A (chain, draw, customer) posterior array to one value per customer (the mean)."""
    return np.asarray(array.mean(("chain", "draw")).values, dtype=np.float64)


def _map_params(model: Any) -> dict[str, float]:
    out = {}
    for name, var in model.idata.posterior.data_vars.items():
        if var.ndim == 2:  # scalar parameters (chain, draw)
            out[str(name)] = round(float(var.values.mean()), 6)
    return out


def score_ltv(con: duckdb.DuckDBPyConnection, as_of: datetime) -> LtvReport:
    """Fit on the shop's purchases up to `as_of` and write `ltv_scores` (buyers only)."""
    summary = summarise(con, as_of + timedelta(seconds=1))
    pred = fit_predict(summary)
    table = pa.table({"user_id": pa.array(summary.user_ids, pa.string()),
                      "expected_purchases": pa.array(pred.expected_purchases),
                      "p_alive": pa.array(pred.p_alive),
                      "expected_spend": pa.array(pred.expected_spend),
                      "expected_value": pa.array(pred.expected_value)})
    name = f"_segmint_ltv_{uuid.uuid4().hex[:8]}"
    LTV_SCORES.create(con)
    con.register(name, table)
    try:
        con.execute(f"INSERT INTO ltv_scores BY NAME SELECT * FROM {name}")
    finally:
        con.unregister(name)
    return LtvReport(len(summary.user_ids), HORIZON_DAYS, pred.params, pred.seconds)


def holdout(con: duckdb.DuckDBPyConnection, cutoff: datetime, end: datetime) -> dict[str, Any]:
    """Calibrate on purchases before `cutoff`, predict purchase days in [cutoff, end) and compare
    with what the customers actually did (the time-split validation of the bench).

    Returns:
        Customers, horizon, MAE per customer, predicted and actual totals and their ratio, the
        same for a naive baseline (each customer's past daily purchase rate), seconds.
    """
    summary = summarise(con, cutoff)
    horizon = (end - cutoff).total_seconds() / 86400
    pred = fit_predict(summary, horizon)
    actual_rows = con.execute(f"""
        SELECT user_id, count(DISTINCT CAST(ts AS DATE)) FROM events
        WHERE event_type = 'purchase' AND ts >= {sql_str(cutoff.isoformat(sep=' '))}
          AND ts < {sql_str(end.isoformat(sep=' '))} GROUP BY 1""").fetchall()
    actual_by = {str(u): float(n) for u, n in actual_rows}
    actual = np.array([actual_by.get(u, 0.0) for u in summary.user_ids])
    naive = (summary.frequency + 1) / summary.T * horizon
    return {
        "customers": len(summary.user_ids), "horizon_days": round(horizon, 2),
        "mae": float(np.abs(pred.expected_purchases - actual).mean()),
        "predicted_total": float(pred.expected_purchases.sum()), "actual_total": float(actual.sum()),
        "ratio": float(pred.expected_purchases.sum() / max(actual.sum(), 1e-9)),
        "naive_mae": float(np.abs(naive - actual).mean()),
        "naive_ratio": float(naive.sum() / max(actual.sum(), 1e-9)),
        "corr": float(np.corrcoef(pred.expected_purchases, actual)[0, 1]),
        "p_alive_buyers": float(pred.p_alive[actual > 0].mean()),
        "p_alive_non_buyers": float(pred.p_alive[actual == 0].mean()),
        "params": pred.params, "seconds": pred.seconds,
    }
