"""Every log line of a real server carries the request id of the request it belongs to, and no key."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.api.browser import running_server
from tests.api.conftest import Seeded


@pytest.mark.slow  # a real server process
def test_the_request_id_is_in_the_real_servers_log_lines(tmp_path: Path, seeded: Seeded) -> None:
    with running_server(tmp_path, seeded=seeded) as server, server.client("agent") as agent:
        missing = agent.get("/v1/drafts/d_missing", headers={"X-Request-ID": "trace-42"})
        created = agent.post("/v1/drafts", json={"order_id": "T1006", "message": "发货了吗"},
                             headers={"X-Request-ID": "trace-43"})
        anonymous = httpx.get(f"{server.url}/v1/drafts", timeout=30)
        rid = anonymous.headers["x-request-id"]  # a request that sent no id gets one
        wanted = {"[req trace-42]": "GET /v1/drafts/d_missing 404", "[req trace-43]": "POST /v1/drafts 201",
                  f"[req {rid}]": "GET /v1/drafts 401"}
        # The access line is written as the response ends: it may land just after the client has read it.
        deadline = time.monotonic() + 10
        while not all(_line(server.log_text(), *w) for w in wanted.items()) and time.monotonic() < deadline:
            time.sleep(0.05)
        log = server.log_text()
    assert missing.status_code == 404 and missing.json()["error"]["request_id"] == "trace-42"
    assert created.status_code == 201 and created.headers["x-request-id"] == "trace-43"
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    for rid_part, request in wanted.items():
        assert _line(log, rid_part, request), (rid_part, request, log)
    assert not any(key in log for key in server.keys.values())  # keys never reach the logs


def _line(log: str, *parts: str) -> bool:
    return any(all(p in line for p in parts) for line in log.splitlines())
