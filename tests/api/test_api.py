"""The REST API (docs/cli.md) on the sample shop: auth, the CLI's documents, errors, exports, schema."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import run_cli
from segmint.agent.act.customers import get_user, similar_customers
from segmint.agent.act.export import COLUMNS
from segmint.agent.api.app import create_app, warm_up
from segmint.agent.ask.answer import Answerer
from segmint.agent.cli import app
from segmint.agent.cli.serve import check_binding, check_port, is_loopback
from segmint.agent.core.errors import UsageError
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.step import segments_document

TOKEN = "test-token-7f3a"
QUESTION = "who are my lapsed high spenders?"
GET_ROUTES = ["/api/summary", "/api/segments", "/api/segments/1", "/api/users/0000001",
              "/api/similar/0000001", "/api/map", "/api/charts", "/api/export?segment=1"]


@pytest.fixture(scope="module")
def shop(sample_workspace: Path) -> Path:
    warm_up(sample_workspace)  # as `segmint serve` does: no request pays for loading the models
    return sample_workspace


@pytest.fixture(scope="module")
def client(shop: Path) -> TestClient:
    """A client of the app with a token, sending it on every call."""
    return TestClient(create_app(shop, token=TOKEN), headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture(scope="module")
def open_client(shop: Path) -> TestClient:
    """A client of the app started without a token."""
    return TestClient(create_app(shop))


def _segments(shop: Path) -> dict[str, Any]:
    with contextlib.closing(Workspace(shop).connect()) as con:
        return segments_document(con)


@pytest.mark.parametrize("route", GET_ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic dGVzdA==", f"Bearer {TOKEN}x", "Bearer"])
def test_every_api_call_needs_the_token(shop: Path, route: str, header: str | None) -> None:
    bare = TestClient(create_app(shop, token=TOKEN))
    headers = {"Authorization": header} if header else {}
    res = bare.get(route, headers=headers)
    assert res.status_code == 401
    assert res.headers["www-authenticate"] == "Bearer"
    assert "token" in res.json()["detail"]
    assert bare.post("/api/ask", json={"question": QUESTION}, headers=headers).status_code == 401


@pytest.mark.parametrize("route", GET_ROUTES)
def test_with_the_token_every_call_answers(client: TestClient, route: str) -> None:
    assert client.get(route).status_code == 200


def test_the_page_and_its_assets_need_no_token_and_no_internet(shop: Path) -> None:
    import re

    bare = TestClient(create_app(shop, token=TOKEN))
    page = bare.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs and all(r.startswith(("/", "data:")) for r in refs), refs
    for ref in (r for r in refs if r.startswith("/static/")):
        res = bare.get(ref)
        assert res.status_code == 200 and len(res.content) > 500, ref
    plotly = bare.get("/static/plotly.min.js")
    assert b"plotly" in plotly.content[:2000].lower() and len(plotly.content) > 1_000_000
    assert bare.get("/static/../api.py").status_code == 404
    assert bare.get("/static/nothing.js").status_code == 404


def test_segments_are_the_cli_document(client: TestClient, shop: Path) -> None:
    expected = json.loads(json.dumps(_segments(shop), default=str))
    assert client.get("/api/segments").json() == expected
    for seg in expected["segments"]:
        assert client.get(f"/api/segments/{seg['id']}").json() == seg


@pytest.mark.parametrize("segment_id", ["999", "abc", "-1", " "])
def test_unknown_segment_is_404(client: TestClient, segment_id: str) -> None:
    res = client.get(f"/api/segments/{segment_id}")
    assert res.status_code == 404
    assert res.json()["status"] == 404 and "segment" in res.json()["detail"]


@pytest.mark.parametrize("question", [QUESTION, "top 10 customers by revenue",
                                      "how many one-time buyers do I have?", "who are my new customers?"])
def test_ask_is_the_cli_answer(client: TestClient, shop: Path, question: str) -> None:
    res = client.post("/api/ask", json={"question": question})
    assert res.status_code == 200
    expected = Answerer(Workspace(shop)).ask(question).to_json()
    assert res.json() == json.loads(json.dumps(expected, default=str))


def test_follow_up_refines_the_previous_answer(client: TestClient) -> None:
    first = client.post("/api/ask", json={"question": QUESTION}).json()
    follow = client.post("/api/ask", json={"question": "of those, who spent over 500?",
                                           "context": first["query"]}).json()
    alone = client.post("/api/ask", json={"question": "who spent over 500?"}).json()
    assert follow["count"] < first["count"] and follow["count"] < alone["count"]
    assert follow["definition"].startswith(first["definition"])
    # Without a follow-up phrase, the context is ignored: a new question stands alone.
    fresh = client.post("/api/ask", json={"question": "who spent over 500?", "context": first["query"]})
    assert fresh.json()["count"] == alone["count"]


@pytest.mark.parametrize("question", ["blorp zing quux", "", "   ", "what is the weather in Paris"])
def test_a_question_not_understood_is_400(client: TestClient, question: str) -> None:
    res = client.post("/api/ask", json={"question": question})
    assert res.status_code == 400
    body = res.json()
    assert body["understood"] is False and body["status"] == 400
    assert "\n" not in body["detail"] and len(body["detail"]) > 20


@pytest.mark.parametrize("body", [{"question": QUESTION, "context": {"any_of": "nope"}},
                                  {"question": "of those, the top 5",
                                   "context": {"any_of": [[{"kind": "field", "field": "password",
                                                            "op": ">", "value": 1}]]}},
                                  {"question": "who ordered more than 3 times", "context": {"sql": "DROP"}}])
def test_a_bad_context_is_400(client: TestClient, body: dict[str, Any]) -> None:
    res = client.post("/api/ask", json=body)
    assert res.status_code == 400, res.text
    assert res.json()["detail"]


@pytest.mark.parametrize("body", [{}, {"q": QUESTION}, {"question": 12}, {"question": QUESTION, "x": 1}])
def test_a_malformed_request_is_422_json(client: TestClient, body: dict[str, Any]) -> None:
    res = client.post("/api/ask", json=body)
    assert res.status_code == 422
    assert isinstance(res.json()["detail"], str)


def test_user_and_similar_are_the_cli_documents(client: TestClient, shop: Path) -> None:
    ws = Workspace(shop)
    for uid in ("0000001", "0000034", "0001500"):
        assert client.get(f"/api/users/{uid}").json() == json.loads(json.dumps(get_user(ws, uid)))
        got = client.get(f"/api/similar/{uid}?k=7").json()
        assert got == similar_customers(ws, uid, 7)
        assert len(got["similar"]) == 7 and uid not in {s["user_id"] for s in got["similar"]}


@pytest.mark.parametrize("route", ["/api/users/nobody", "/api/similar/nobody", "/api/users/0009999",
                                   "/api/similar/%20"])
def test_unknown_customer_is_404(client: TestClient, route: str) -> None:
    res = client.get(route)
    assert res.status_code == 404 and "not found" in res.json()["detail"]


def _read(content: bytes, fmt: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        return pacsv.read_csv(io.BytesIO(content)).to_pylist()
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(content)).to_pylist()
    return [json.loads(line) for line in content.decode().splitlines()]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
@pytest.mark.parametrize("by", ["segment", "question", "query"])
def test_export_writes_every_selected_customer(client: TestClient, shop: Path, fmt: str, by: str) -> None:
    answer = Answerer(Workspace(shop)).ask(QUESTION)
    seg = _segments(shop)["segments"][1]
    params = {"segment": {"segment": seg["id"]}, "question": {"question": QUESTION},
              "query": {"query": json.dumps(answer.query)}}[by]
    res = client.get("/api/export", params={**params, "format": fmt})
    assert res.status_code == 200, res.text
    assert "attachment" in res.headers["content-disposition"]
    assert res.headers["content-disposition"].rstrip('"').endswith(f".{fmt}")
    rows = _read(res.content, fmt)
    assert len(rows) == (seg["size"] if by == "segment" else answer.count)
    assert set(COLUMNS) <= set(rows[0])
    if by == "segment":
        assert {str(r["segment_id"]) for r in rows} == {seg["id"]}
    else:
        assert {str(r["user_id"]).zfill(7) for r in rows} >= {s["user_id"] for s in answer.sample}


def test_export_hashes_ids_on_request(client: TestClient) -> None:
    rows = _read(client.get("/api/export", params={"segment": "2", "hash_ids": "true"}).content, "csv")
    assert rows and all(len(str(r["user_id"])) == 64 for r in rows)


@pytest.mark.parametrize(("params", "status"), [
    ({}, 400), ({"segment": "1", "question": QUESTION}, 400), ({"segment": "no such segment"}, 404),
    ({"question": "blorp zing"}, 400), ({"query": "{not json"}, 400), ({"query": '{"sql": 1}'}, 400),
    ({"segment": "1", "format": "xlsx"}, 422),
])
def test_export_errors(client: TestClient, params: dict[str, str], status: int) -> None:
    res = client.get("/api/export", params=params)
    assert res.status_code == status, res.text
    assert res.json()["detail"]


def test_map_is_deterministic_and_covers_the_segments(client: TestClient, shop: Path) -> None:
    first = client.get("/api/map").json()
    assert client.get("/api/map").json() == first
    with contextlib.closing(Workspace(shop).connect()) as con:
        seg_of = {u: str(s) for u, s in con.execute("SELECT user_id, segment_id FROM users").fetchall()}
    assert first["total"] == len(seg_of) and 0 < first["shown"] <= first["total"]
    assert len(first["x"]) == len(first["y"]) == len(first["user_id"]) == first["shown"]
    assert all(seg_of[u] == s for u, s in zip(first["user_id"], first["segment_id"], strict=True))
    assert {c["id"] for c in first["centres"]} == {s for s in seg_of.values() if s != "0"}


def test_charts_add_up(client: TestClient, shop: Path) -> None:
    charts = client.get("/api/charts").json()
    summary = client.get("/api/summary").json()
    assert sum(s["size"] for s in charts["segments"]) == summary["customers"] == 1500
    assert sum(s["revenue"] for s in charts["segments"]) == pytest.approx(summary["revenue"], abs=1)
    assert sum(s["revenue_share"] for s in charts["segments"]) == pytest.approx(1, abs=1e-3)
    for field in ("recency_days", "orders", "revenue"):
        for box in charts["distributions"][field]:
            assert box["q05"] <= box["q25"] <= box["median"] <= box["q75"] <= box["q95"]


def test_no_workspace_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no segmint workspace"):
        create_app(tmp_path / "empty")


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.com", False),
])
def test_binding_rules(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    check_binding(host, "a-token")
    if loopback:
        check_binding(host, None)
    else:
        with pytest.raises(UsageError, match="without a token"):
            check_binding(host, None)


def test_serve_refuses_a_public_address_without_a_token(shop: Path) -> None:
    proc = run_cli("serve", "-w", str(shop), "--host", "0.0.0.0", "--port", "1")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "without a token" in lines[0] and "--token" in lines[0]


def test_serve_refuses_a_port_in_use(shop: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_cli("serve", "-w", str(shop), "--port", str(port))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0]


@pytest.mark.parametrize(("host", "port"), [("127.0.0.1", 0), ("localhost", 0), ("::1", 0)])
def test_check_port_accepts_a_free_address(host: str, port: int) -> None:
    import socket

    if host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        check_port(host, port)
    except UsageError as exc:
        if host == "::1" and "Cannot assign" in str(exc):
            pytest.skip("IPv6 loopback not configured")
        raise


def test_openapi_schema_names_every_route(open_client: TestClient) -> None:
    schema = open_client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/segments", "/api/segments/{segment_id}", "/api/ask", "/api/export",
                 "/api/users/{user_id}", "/api/similar/{user_id}"):
        assert path in paths
    ask_doc = schema["components"]["schemas"]["AskDocument"]["required"]
    assert {"question", "understood", "answer", "definition", "query", "count", "sample",
            "export"} <= set(ask_doc)
    assert set(paths["/api/ask"]["post"]["responses"]) >= {"200", "400", "401", "422"}


@pytest.fixture(scope="module")
def api_schema(shop: Path) -> Any:
    import schemathesis

    return schemathesis.openapi.from_asgi("/openapi.json", create_app(shop))


OPERATIONS = [("GET", "/api/summary"), ("GET", "/api/segments"), ("GET", "/api/segments/{segment_id}"),
              ("POST", "/api/ask"), ("GET", "/api/export"), ("GET", "/api/users/{user_id}"),
              ("GET", "/api/similar/{user_id}"), ("GET", "/api/map"), ("GET", "/api/charts"),
              ("GET", "/api/recommend"), ("GET", "/api/brief"), ("GET", "/api/audit")]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_schemathesis_no_server_errors_and_responses_match_the_schema(
        api_schema: Any, method: str, path: str) -> None:
    """Generated requests (valid and not) never get a 500, and every response matches the schema."""
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    assert path in api_schema.raw_schema["paths"], f"the API has no {path}"
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=12, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(checks=[not_a_server_error, status_code_conformance,
                                       content_type_conformance, response_schema_conformance])

    check()


KINDS = {"who bought tents?": ("customers", {"count", "sample", "export", "matched_products"}),
         "what is the average revenue of my lapsed customers?": ("number", {"value", "measure", "customers"}),
         "average order value by region": ("table", {"group_by", "measure", "rows"})}


@pytest.mark.parametrize("question", list(KINDS))
def test_every_kind_is_the_same_json_on_the_cli_and_the_api(client: TestClient, shop: Path,
                                                            question: str) -> None:
    kind, keys = KINDS[question]
    res = client.post("/api/ask", json={"question": question})
    assert res.status_code == 200, res.text
    doc = res.json()
    cli = CliRunner().invoke(app, ["ask", question, "-w", str(shop), "--json"])
    assert cli.exit_code == 0, cli.output
    assert doc == json.loads(cli.stdout)
    assert doc["kind"] == kind and keys <= set(doc)
    assert {"question", "understood", "answer", "definition", "query", "count", "sample", "export",
            "parser", "paraphrases"} <= set(doc)
    if kind == "number":
        assert isinstance(doc["value"], float) and doc["customers"] > 0
    if kind == "table":
        assert doc["rows"] and all(set(r) == {"group", "value", "customers"} for r in doc["rows"])
        shown = CliRunner().invoke(app, ["ask", question, "-w", str(shop)]).stdout  # a terminal table
        lines = [line for line in shown.splitlines() if any(r["group"] in line for r in doc["rows"])]
        assert len(lines) >= len(doc["rows"]) and f"{doc['rows'][0]['customers']:,}" in shown
        values = [r["value"] for r in doc["rows"]]
        assert values == sorted(values, reverse=True) and doc["answer"].startswith(doc["rows"][0]["group"])
    if kind == "customers":
        assert doc["matched_products"] and all("tent" in p["text"].lower() for p in doc["matched_products"])


def test_a_table_exports_its_rows(client: TestClient) -> None:
    question = "average order value by region"
    doc = client.post("/api/ask", json={"question": question}).json()
    for params in ({"question": question}, {"query": json.dumps(doc["query"])}):
        rows = _read(client.get("/api/export", params={**params, "format": "jsonl"}).content, "jsonl")
        assert [(r["group"], r["customers"]) for r in rows] == [
            (r["group"], r["customers"]) for r in doc["rows"]]
        assert [r["value"] for r in rows] == pytest.approx([r["value"] for r in doc["rows"]])
