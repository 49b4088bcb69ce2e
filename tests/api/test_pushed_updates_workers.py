"""A pushed update is visible to the next draft on every worker: two API processes on PostgreSQL and a
`chroma run` server, sharing the facts cache (Redis, or the database), against the fake TOP gateway."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from knowledge.sources.events import sign_event
from knowledge.sources.secretbox import new_key
from tests.api.test_crash import BIN, ROOT, _kill, _port, _wait
from tests.fakes.server import LoopbackServer
from tests.fakes.top_gateway import FakeTop
from tests.knowledge.sources.test_taobao import TID, split_trade, traces

EVENTS_SECRET = "evt-secret-workers-0123456789"


def _cli(env: dict[str, str], *args: str) -> str:
    r = subprocess.run([str(BIN / "replydesk"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["auto", "database"])
def test_a_pushed_update_reaches_the_next_draft_on_every_worker(tmp_path: Path, pg_schema_url: str,
                                                                backend: str) -> None:
    top = FakeTop()
    top.trades[TID] = split_trade()
    traces(top)
    cport = _port()
    chroma = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1",
                               "--port", str(cport)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    workers: list[subprocess.Popen] = []
    try:
        with LoopbackServer(top.app) as gw:
            _wait(f"http://127.0.0.1:{cport}/api/v2/heartbeat", chroma, 60)
            env = {**os.environ, "REPLYDESK_DATA_DIR": str(tmp_path / "data"), "REPLYDESK_DATABASE_URL": pg_schema_url,
                   "REPLYDESK_CHROMA_URL": f"http://127.0.0.1:{cport}", "REPLYDESK_RATE_LIMIT_PER_MIN": "0",
                   "REPLYDESK_SECRET_KEY": new_key(), "REPLYDESK_ORDER_CACHE_BACKEND": backend}
            _cli(env, "shops", "create", "acme")
            agent = _cli(env, "keys", "create", "--shop", "acme", "--role", "agent").strip().splitlines()[-1]
            _cli(env, "orders", "connect", "--shop", "acme", "--source", "taobao", "--app-key", top.app_key,
                 "--app-secret", top.app_secret, "--session", top.session, "--gateway", gw.url + "/router/rest",
                 "--events-secret", EVENTS_SECRET)
            ports = [_port(), _port()]
            log = tmp_path / "workers.log"
            for p in ports:
                workers.append(subprocess.Popen([str(BIN / "replydesk"), "serve", "--port", str(p)], cwd=ROOT,
                                                env=env, stdout=log.open("a"), stderr=subprocess.STDOUT,
                                                start_new_session=True))
            for p, w in zip(ports, workers, strict=True):
                _wait(f"http://127.0.0.1:{p}/healthz", w, 180)

            def draft(port: int) -> dict:
                r = httpx.post(f"http://127.0.0.1:{port}/v1/drafts", json={"order_id": TID, "message": "发货了吗"},
                               headers={"Authorization": f"Bearer {agent}"}, timeout=60)
                assert r.status_code == 201, r.text
                return r.json()  # type: ignore[no-any-return]

            before = [draft(p) for p in ports]
            assert [d["facts"]["status"] for d in before] == ["SELLER_CONSIGNED_PART"] * 2
            assert top.count("taobao.trade.fullinfo.get") == 1  # the second worker read the shared cache

            facts = dict(before[0]["facts"], status="WAIT_BUYER_CONFIRM_GOODS")
            facts["items"] = [dict(i, status="WAIT_BUYER_CONFIRM_GOODS") for i in facts["items"]]
            facts.pop("fetched_at")
            raw = json.dumps({"id": "evt-workers-1", "order": facts}, ensure_ascii=False).encode()
            ts = str(int(time.time()))
            r = httpx.post(f"http://127.0.0.1:{ports[0]}/v1/orders/events", content=raw, timeout=30, headers={
                "Content-Type": "application/json", "X-Replydesk-Shop": "acme", "X-Replydesk-Timestamp": ts,
                "X-Replydesk-Signature": sign_event(EVENTS_SECRET, ts, raw)})
            assert r.status_code == 200 and r.json()["results"][0]["result"] == "cached", r.text

            after = [draft(p) for p in reversed(ports)]  # the worker that did not receive the push first
            assert [d["facts"]["status"] for d in after] == ["WAIT_BUYER_CONFIRM_GOODS"] * 2
            assert top.count("taobao.trade.fullinfo.get") == 1  # the push, not a new pull, changed them
            ready = httpx.get(f"http://127.0.0.1:{ports[1]}/readyz", timeout=10).json()
            assert ready["order_sources"][0]["last_success_at"]
    finally:
        for w in workers:
            _kill(w, signal.SIGTERM)
        _kill(chroma, signal.SIGTERM)
