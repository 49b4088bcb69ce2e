"""POST /v1/drafts/stream over SSE, against a real local OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from drafter.llm import LLMClient
from tests.api.conftest import Seeded, auth, seeded_container
from tests.drafter.llm_server import Script, serve_script

HONEST = "亲，您的包裹已经发出了，中通快递，运单号78812345678901。祝您生活愉快！"


def parse_sse(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        out.append((lines["event"], json.loads(lines["data"])))
    return out


@pytest.fixture
def llm_client(tmp_path: Path, clock, seeded: Seeded, embedder) -> Iterator[tuple[TestClient, Script, dict[str, str]]]:
    with serve_script() as (url, script):
        c = seeded_container(seeded, tmp_path / "d", clock, embedder, llm_base_url=url, llm_model="test-model",
                             llm_timeout_s=2)
        # Retries back off through an injected sleep: the test records the delays instead of waiting them.
        c.llm = LLMClient(c.settings, clock, sleep=BACKOFF.append)
        BACKOFF.clear()
        with TestClient(create_app(container=c)) as client:
            yield client, script, dict(seeded.keys)
        c.close()


BACKOFF: list[float] = []


def test_stream_sends_template_tokens_then_the_guarded_final(llm_client) -> None:
    client, script, keys = llm_client
    script.push(("text", "亲，明天一定到，送您10元红包！"), ("text", HONEST))
    r = client.post("/v1/drafts/stream", json={"order_id": "T1006", "message": "发货了吗"}, headers=auth(keys["agent"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    names = [n for n, _ in events]
    assert names[0] == "template" and names[-1] == "final" and "token" in names
    assert "id" not in events[0][1] or events[0][1]["id"] is None  # the preview is not stored
    streamed = "".join(d["text"] for n, d in events if n == "token")
    assert "红包" in streamed  # unguarded tokens of the first attempt...
    final = events[-1][1]
    assert final["id"].startswith("d_") and final["text"] == HONEST and final["guard"]["repaired"]  # ...replaced
    assert client.get(f"/v1/drafts/{final['id']}", headers=auth(keys["agent"])).json()["text"] == HONEST


def test_llm_composer_over_plain_post_and_fallback_when_the_model_is_down(llm_client) -> None:
    client, script, keys = llm_client
    script.default = ("status", 503)
    r = client.post("/v1/drafts", json={"order_id": "T1006", "message": "发货了吗", "composer": "llm"},
                    headers=auth(keys["agent"]))
    body = r.json()
    assert r.status_code == 201 and body["composer"] == "llm" and body["guard"]["fell_back"]
    assert "78812345678901" in body["text"]
    assert len(BACKOFF) >= 2 and BACKOFF[1] > BACKOFF[0]  # it retried, backing off (without waiting here)
    bad = client.post("/v1/drafts", json={"order_id": "T1", "message": "x", "prompt": "../../etc"},
                      headers=auth(keys["agent"]))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "prompt"


def test_template_stream_without_a_model(client: TestClient, demo: dict[str, str]) -> None:
    r = client.post("/v1/drafts/stream", json={"order_id": "T1004", "message": "什么时候发"}, headers=auth(demo["agent"]))
    names = [n for n, _ in parse_sse(r.text)]
    assert names == ["template", "final"]


def test_a_stream_error_carries_the_same_code_as_the_json_error(client: TestClient, demo: dict[str, str]) -> None:
    body = {"order_id": "T1004", "message": "什么时候发", "composer": "llm"}  # this server has no model
    plain = client.post("/v1/drafts", json=body, headers=auth(demo["agent"]))
    assert plain.status_code == 422
    events = parse_sse(client.post("/v1/drafts/stream", json=body, headers=auth(demo["agent"])).text)
    assert [n for n, _ in events] == ["template", "error"]
    err = events[-1][1]
    assert (err["code"], err["field"]) == (plain.json()["error"]["code"], plain.json()["error"]["field"]) \
        == ("invalid_input", "composer")
    assert client.get("/v1/drafts", headers=auth(demo["agent"])).json()["items"] == []  # nothing stored
