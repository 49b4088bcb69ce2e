"""Every log line of a real server carries the request id of the request it belongs to, and no key."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.api.browser import running_server
from tests.api.conftest import Seeded


def test_the_request_id_is_in_the_real_servers_log_lines(tmp_path: Path, seeded: Seeded) -> None:
    with running_server(tmp_path, seeded=seeded) as server, server.client("agent") as agent:
        missing = agent.get("/v1/drafts/d_missing", headers={"X-Request-ID": "trace-42"})
        created = agent.post("/v1/drafts", json={"order_id": "T1006", "message": "发货了吗"},
                             headers={"X-Request-ID": "trace-43"})
        anonymous = httpx.get(f"{server.url}/v1/drafts", timeout=30)
        log = server.log_text()
    assert missing.status_code == 404 and missing.json()["error"]["request_id"] == "trace-42"
    assert created.status_code == 201 and created.headers["x-request-id"] == "trace-43"
    lines = log.splitlines()
    assert [x for x in lines if "[req trace-42]" in x and "GET /v1/drafts/d_missing 404" in x], log
    assert [x for x in lines if "[req trace-43]" in x and "POST /v1/drafts 201" in x], log
    # A request that sent no id gets one: the same in its response and in its log line.
    rid = anonymous.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid) and [x for x in lines if f"[req {rid}]" in x and " 401 " in x], log
    assert not any(key in log for key in server.keys.values())  # keys never reach the logs
