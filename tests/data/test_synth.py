"""The sample shop generator: contract, determinism, planted structure, output formats."""

from __future__ import annotations

import csv
import gzip
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmint.data import synth

N_USERS = 3000
END = date(2026, 6, 30)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthResult:
    out = tmp_path_factory.mktemp("shop") / "shop.parquet"
    return synth.generate(N_USERS, out, seed=7, chunk_users=1000)


@pytest.fixture(scope="module")
def events(shop: synth.SynthResult) -> pd.DataFrame:
    return pd.read_parquet(shop.events_path)


@pytest.fixture(scope="module")
def labels(shop: synth.SynthResult) -> pd.DataFrame:
    return pd.read_csv(shop.labels_path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def per_user(events: pd.DataFrame) -> pd.DataFrame:
    """docs/definitions.md features computed independently of the generator's plan."""
    as_of = events["timestamp"].max()
    buys = events[events["event_type"] == "purchase"]
    g = buys.groupby("user_id").agg(
        orders=("order_id", "nunique"), last=("timestamp", "max"), first=("timestamp", "min")
    )
    day = pd.Timedelta(days=1)
    g["recency_days"] = np.floor((as_of - g["last"]) / day)
    g["tenure_days"] = np.floor((as_of - g["first"]) / day)
    users = pd.DataFrame(index=pd.Index(events["user_id"].unique(), name="user_id"))
    return users.join(g).fillna({"orders": 0})


def _text_owner() -> dict[str, str]:
    owner = {}
    for p in synth.load_personas():
        for text in [t for t, _ in p.products] + list(p.queries) + list(p.typos):
            owner[text] = p.name
    return owner


def test_columns_types_and_row_rules(shop: synth.SynthResult, events: pd.DataFrame) -> None:
    schema = pq.read_schema(shop.events_path)
    assert tuple(schema.names) == synth.COLUMNS
    assert schema.equals(synth.EVENT_SCHEMA)
    assert set(events["event_type"]) == set(synth.EVENT_TYPES)
    assert events["user_id"].notna().all() and events["timestamp"].notna().all()
    assert events["text"].notna().all()

    kind = events["event_type"]
    search = kind == "search"
    has_order = kind.isin(["purchase", "return"])
    assert events["product_id"].isna().equals(search)
    assert events["category"].isna().equals(search)
    assert events["price"].isna().equals(search)
    assert events["order_id"].notna().equals(has_order)
    assert events["quantity"].isna().equals(search | (kind == "view"))
    assert (events.loc[kind == "return", "quantity"] < 0).all()
    assert (events.loc[kind.isin(["cart", "purchase"]), "quantity"] >= 1).all()
    assert (events.loc[~search, "price"] > 0).all()

    window_end = datetime(END.year, END.month, END.day) + timedelta(days=1)
    assert events["timestamp"].max() < window_end
    assert events["timestamp"].min() >= window_end - timedelta(days=synth.WINDOW_DAYS)


def test_returns_follow_their_purchase(events: pd.DataFrame) -> None:
    buys = events[events["event_type"] == "purchase"]
    back = events[events["event_type"] == "return"]
    assert 0.01 < len(back) / len(buys) < 0.10
    key = ["user_id", "order_id", "product_id"]
    joined = back.merge(buys, on=key, suffixes=("_r", "_p"))
    assert joined[key].drop_duplicates().shape[0] == len(back)
    assert (joined["timestamp_r"] > joined["timestamp_p"]).all()
    assert (joined["quantity_r"] == -joined["quantity_p"]).all()


def test_orders_group_lines_of_one_customer_at_one_time(events: pd.DataFrame) -> None:
    buys = events[events["event_type"] == "purchase"]
    per_order = buys.groupby("order_id").agg(
        users=("user_id", "nunique"), times=("timestamp", "nunique"), lines=("user_id", "size")
    )
    assert (per_order["users"] == 1).all() and (per_order["times"] == 1).all()
    assert 1.1 < per_order["lines"].mean() < 2.0


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a = synth.generate(400, tmp_path / "a.parquet", seed=3, chunk_users=150)
    b = synth.generate(400, tmp_path / "b.parquet", seed=3, chunk_users=150)
    c = synth.generate(400, tmp_path / "c.parquet", seed=4, chunk_users=150)
    for x, y in zip(a.paths, b.paths, strict=True):
        assert x.read_bytes() == y.read_bytes()
    assert a.n_events == b.n_events == pq.read_metadata(a.events_path).num_rows
    assert a.events_path.read_bytes() != c.events_path.read_bytes()


def test_labels_and_users_cover_every_customer(
    shop: synth.SynthResult, events: pd.DataFrame, labels: pd.DataFrame
) -> None:
    users = pd.read_csv(shop.users_path, dtype=str)
    ids = set(labels["user_id"])
    assert len(labels) == len(ids) == N_USERS == shop.n_users
    assert set(users["user_id"]) == ids == set(events["user_id"])
    names = {p.name for p in synth.load_personas()}
    assert set(labels["label"]) <= names | {synth.MIXED_LABEL}
    assert len(set(labels["label"])) == len(names) + 1
    mixed = (labels["label"] == synth.MIXED_LABEL).mean()
    assert abs(mixed - synth.MIXED_SHARE) < 0.02


def test_lifecycle_shares_match_the_plan(per_user: pd.DataFrame) -> None:
    s = synth.LIFECYCLE_SHARES
    f = per_user
    buyers = f["orders"] >= 1
    observed = {
        "never bought": (~buyers).mean(),
        "lapsed": (buyers & (f["recency_days"] > 90)).mean(),
        "at risk": ((f["orders"] >= 2) & (f["recency_days"] > 45) & (f["recency_days"] <= 90)).mean(),
        "new": (buyers & (f["tenure_days"] <= 30)).mean(),
        "one-time": (f["orders"] == 1).mean(),
        "active": (buyers & (f["recency_days"] <= 30)).mean(),
    }
    planted = {
        "never bought": s["browser"],
        "lapsed": s["one_time_lapsed"] + s["lapsed_repeat"],
        "at risk": s["at_risk"],
        "new": s["new"],
        "one-time": s["one_time_recent"] + s["one_time_lapsed"] + s["new"] * synth.NEW_ORDER_COUNTS[0],
    }
    for name, share in planted.items():
        assert abs(observed[name] - share) < 0.035, (name, observed[name], share)
    # Active customers are the new ones plus most active repeat buyers.
    assert s["new"] < observed["active"] < s["new"] + s["active_repeat"]


def test_persona_texts_dominate_each_customer(events: pd.DataFrame, labels: pd.DataFrame) -> None:
    owner = _text_owner()
    persona = events["text"].map(owner)
    assert persona.notna().all()
    label = events["user_id"].map(labels.set_index("user_id")["label"])
    planted = label != synth.MIXED_LABEL
    own = (persona == label)[planted]
    assert own.mean() > 0.85
    per_user = own.groupby(events.loc[planted, "user_id"]).mean()
    assert per_user.median() >= 0.9
    assert (per_user >= 0.8).mean() > 0.8
    # ...and some cross-persona browsing exists, so the task is not trivial.
    assert own.mean() < 0.99
    mixed_users = events.loc[~planted].assign(p=persona[~planted])
    assert mixed_users.groupby("user_id")["p"].nunique().mean() > 3


def test_events_average_about_twenty_per_customer(events: pd.DataFrame) -> None:
    counts = events.groupby("user_id").size()
    assert 16 <= counts.mean() <= 24
    assert counts.min() >= 1
    mix = events["event_type"].value_counts(normalize=True)
    assert mix["view"] > mix["purchase"] > mix["return"]


def test_value_is_concentrated(events: pd.DataFrame) -> None:
    money = events[events["event_type"].isin(["purchase", "return"])]
    revenue = (money["price"] * money["quantity"]).groupby(money["user_id"]).sum()
    top = revenue.sort_values(ascending=False)
    assert top.head(len(top) // 5).sum() / top.sum() > 0.5


def test_attributes_correlate_with_persona(shop: synth.SynthResult, labels: pd.DataFrame) -> None:
    users = pd.read_csv(shop.users_path, dtype=str).merge(labels, on="user_id")
    assert set(users["age_band"].dropna()) <= set(synth.AGE_BANDS)
    assert set(users["gender"].dropna()) <= set(synth.GENDERS)
    assert set(users["region"]) <= set(synth.REGIONS)
    assert 0 < users["age_band"].isna().mean() < 0.05
    old = users["age_band"] == "55+"
    assert old[users["label"] == "knitters"].mean() > 2 * old[users["label"] == "gamers"].mean()
    female = users["gender"] == "female"
    assert female[users["label"] == "skincare"].mean() > 2 * female[users["label"] == "anglers"].mean()
    signup = pd.to_datetime(users["signup_date"])
    assert (signup <= pd.Timestamp(END)).all()


def test_csv_keeps_leading_zeros_and_same_rows(tmp_path: Path) -> None:
    ref = synth.generate(60, tmp_path / "s.parquet", seed=1)
    out = synth.generate(60, tmp_path / "s.csv", seed=1)
    with out.events_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = [r["user_id"] for r in rows]
    assert all(re.fullmatch(r"0{4}\d{3}", i) for i in ids)
    assert rows[0]["timestamp"] == pd.read_parquet(ref.events_path)["timestamp"][0].isoformat()
    assert len(rows) == out.n_events == ref.n_events
    with out.labels_path.open(newline="") as fh:
        assert next(csv.reader(fh)) == ["user_id", "label"]
        assert all(re.fullmatch(r"0{4}\d{3}", row[0]) for row in csv.reader(fh))
    assert out.labels_path.name == "s.csv.labels.csv"


def test_every_format_holds_the_same_events(tmp_path: Path) -> None:
    ref = pd.read_parquet(synth.generate(80, tmp_path / "e.parquet", seed=2).events_path)
    gz = synth.generate(80, tmp_path / "e.csv.gz", seed=2).events_path
    jl = synth.generate(80, tmp_path / "e.jsonl", seed=2).events_path
    with gzip.open(gz, "rt", newline="") as fh:
        from_gz = pd.DataFrame(list(csv.DictReader(fh)))
    with jl.open() as fh:
        from_jl = pd.DataFrame([json.loads(line) for line in fh])
    for other in (from_gz, from_jl):
        assert list(other.columns) == list(synth.COLUMNS)
        assert other["user_id"].tolist() == ref["user_id"].tolist()
        assert other["text"].tolist() == ref["text"].tolist()
        assert pd.to_datetime(other["timestamp"]).tolist() == ref["timestamp"].tolist()
        price = pd.to_numeric(other["price"].replace("", None))
        assert np.allclose(price.fillna(-1), ref["price"].fillna(-1))
    assert from_jl["quantity"].isna().equals(ref["quantity"].isna())


def test_zero_users_writes_empty_files(tmp_path: Path) -> None:
    res = synth.generate(0, tmp_path / "empty.parquet")
    assert res.n_events == 0 and pq.read_table(res.events_path).num_rows == 0
    assert res.labels_path.read_text().strip() == '"user_id","label"'


def test_failed_run_leaves_previous_files_and_no_temp(tmp_path: Path) -> None:
    out = tmp_path / "keep.parquet"
    first = synth.generate(50, out, seed=1)
    before = [p.read_bytes() for p in first.paths]

    def boom(done: int, total: int) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        synth.generate(200, out, seed=2, chunk_users=100, progress=boom)
    assert [p.read_bytes() for p in first.paths] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in first.paths)


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.parquet"):
        synth.generate(10, tmp_path / "shop.xlsx")
    with pytest.raises(ValueError):
        synth.generate(-1, tmp_path / "shop.parquet")
    with pytest.raises(ValueError):
        synth.generate(10, tmp_path / "shop.parquet", chunk_users=0)


def test_end_date_moves_the_window(tmp_path: Path) -> None:
    res = synth.generate(100, tmp_path / "w.parquet", seed=1, end=date(2025, 1, 31))
    ts = pq.read_table(res.events_path, columns=["timestamp"]).column(0).to_pandas()
    assert ts.max() < pd.Timestamp("2025-02-01") and ts.min() >= pd.Timestamp("2024-02-01")


def test_catalogue_is_rich_and_unambiguous() -> None:
    personas = synth.load_personas()
    assert len(personas) >= 20
    assert all(20 <= len(p.products) <= 40 and len(p.queries) >= 15 for p in personas)
    texts = [t for p in personas for t, _ in p.products]
    texts += [q for p in personas for q in (*p.queries, *p.typos)]
    assert len(texts) == len(set(texts))
    assert len({p.category for p in personas}) == len(personas)
    assert sum(len(p.typos) for p in personas) > 0.9 * sum(len(p.queries) for p in personas)


def test_catalogue_validation_catches_duplicates(tmp_path: Path) -> None:
    bad = tmp_path / "personas.yaml"
    entry = (
        "  - {name: %s, category: %s, price_level: low, weight: 1, cadence_days: 30,"
        " return_rate: 0.1, age: [1, 1, 1, 1, 1], gender: [1, 1, 1], related: [],"
        " products: ['Same Title | 9.99'], queries: [q%s]}\n"
    )
    bad.write_text("personas:\n" + entry % ("a", "A", "1") + entry % ("b", "B", "2"))
    with pytest.raises(ValueError, match="Same Title"):
        synth.load_personas(bad)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz 0123456789", min_size=1, max_size=40))
def test_typos_are_small_deterministic_edits(query: str) -> None:
    typo = synth.make_typo(query)
    assert typo == synth.make_typo(query)
    assert abs(len(typo) - len(query)) <= 1
    if sum(ch.isalpha() for ch in query) >= 3:
        assert typo != query
        assert typo[0] == query[0] or not query[0].isalpha()


LONG_TAIL_USERS = 4000


@pytest.fixture(scope="module")
def long_tail(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = tmp_path_factory.mktemp("long_tail") / "shop.parquet"
    res = synth.generate(LONG_TAIL_USERS, out, seed=5, chunk_users=1500, catalogue=synth.LONG_TAIL)
    labels = pd.read_csv(res.labels_path, dtype=str, keep_default_na=False)
    return pd.read_parquet(res.events_path), labels


def test_long_tail_has_a_catalogue_per_customer_with_zipf_sales(
    long_tail: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    events, _ = long_tail
    products = events.loc[events["product_id"].notna(), ["product_id", "text"]].drop_duplicates()
    # About 0.3 products per customer exist; the least popular are never sold at all.
    assert 0.15 * LONG_TAIL_USERS < products["product_id"].nunique() <= 0.3 * LONG_TAIL_USERS + 20
    assert products.groupby("product_id")["text"].nunique().max() == 1
    buyers = events[events["event_type"] == "purchase"].groupby("product_id")["user_id"].nunique()
    ranked = buyers.sort_values(ascending=False).to_numpy()
    assert ranked[0] > 20 * np.median(ranked)
    assert (ranked <= 2).mean() > 0.1


def test_long_tail_queries_are_mostly_unique_and_on_persona(
    long_tail: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    events, labels = long_tail
    searches = events[events["event_type"] == "search"]
    typed_by = searches.groupby("text")["user_id"].nunique()
    assert (typed_by == 1).mean() > 0.6
    assert typed_by.max() > 20  # the head queries are still shared
    assert len(typed_by) > 0.4 * len(searches)
    assert searches["text"].str.fullmatch(r"[a-z0-9' &.,()-]+( [a-z0-9' &.,()-]+)*").all()
    # Most of a planted customer's products come from their persona's category.
    persona_category = {p.name: p.category for p in synth.load_personas()}
    bought = events[events["event_type"] == "purchase"].merge(labels, on="user_id")
    bought = bought[bought["label"] != synth.MIXED_LABEL]
    assert (bought["category"] == bought["label"].map(persona_category)).mean() > 0.8


def test_long_tail_is_deterministic_and_checked(tmp_path: Path) -> None:
    a = synth.generate(300, tmp_path / "a.parquet", seed=2, catalogue=synth.LONG_TAIL)
    b = synth.generate(300, tmp_path / "b.parquet", seed=2, catalogue=synth.LONG_TAIL)
    default = synth.generate(300, tmp_path / "c.parquet", seed=2)
    ta, tb = pq.read_table(a.events_path), pq.read_table(b.events_path)
    assert ta.equals(tb)
    assert not ta.equals(pq.read_table(default.events_path))
    with pytest.raises(ValueError, match="unknown catalogue"):
        synth.generate(10, tmp_path / "d.parquet", catalogue="huge")


def test_typo_variants_differ_and_repeat() -> None:
    word = "grinder"
    variants = {synth.make_typo(word, variant=v) for v in range(1, 9)}
    assert synth.make_typo(word, variant=0) == synth.make_typo(word)
    assert len(variants) > 2 and word not in variants
    assert synth.make_typo(word, variant=3) == synth.make_typo(word, variant=3)
