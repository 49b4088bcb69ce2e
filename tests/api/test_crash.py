"""No data loss: SIGKILL the real server mid-stream of decisions; every acknowledged event survives, once.

PostgreSQL + a `chroma run` server + two workers; and SQLite + embedded Chroma + one worker.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


def _start(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([str(BIN / "replydesk"), "serve", "--port", str(port), "--workers", str(workers)],
                            cwd=ROOT, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)
    _wait(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def _kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def _run_crash(tmp_path: Path, env: dict[str, str], workers: int) -> dict[str, Any]:
    log = tmp_path / "server.log"
    seed = subprocess.run([str(BIN / "replydesk"), "demo", "seed"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert seed.returncode == 0, seed.stderr
    keys = dict(line.split(" key: ") for line in seed.stdout.splitlines() if " key: " in line)
    port = _port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(env, port, workers, log)
    agent = {"Authorization": f"Bearer {keys['agent']}"}
    orders = [f"T10{i:02d}" for i in range(1, 15)]
    with httpx.Client(base_url=base, timeout=30) as c:
        ids = [c.post("/v1/drafts", json={"order_id": oid, "message": f"还没发货吗 #{i}"}, headers=agent).json()["id"]
               for i, oid in enumerate(orders)]
    # Decisions race in from 4 threads; the server is killed while some of them are in flight.
    plan = [(d, "approve" if i % 2 == 0 else "reject") for i, d in enumerate(ids)]
    acked: dict[str, str] = {}
    in_flight: set[str] = set()
    cut: set[str] = set()  # sent, and the connection broke before an answer came
    lock = threading.Lock()

    def decide(item: tuple[str, str]) -> None:
        d, what = item
        body = {} if what == "approve" else {"reason": "wrong_tone"}
        with lock:
            in_flight.add(d)
        ok = False
        try:
            r = httpx.post(f"{base}/v1/drafts/{d}/{what}", json=body, timeout=10,
                           headers={**agent, "Idempotency-Key": f"crash-{d}"})
            ok = r.status_code == 200
        except httpx.HTTPError:  # not acknowledged: it may or may not have happened, but never twice
            with lock:
                cut.add(d)
        with lock:
            in_flight.discard(d)
            if ok:
                acked[d] = what

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(decide, p) for p in plan]
        while not all(f.done() for f in futures):
            with lock:
                if len(acked) >= len(plan) // 3 and in_flight:
                    at_kill, killed_with = set(in_flight), len(acked)
                    os.killpg(proc.pid, signal.SIGKILL)  # under the lock: no answer is counted meanwhile
                    break
            time.sleep(0.002)
        else:
            raise AssertionError("every decision finished before the kill: nothing was tested")
    _kill(proc)
    print(f"\nkilled with {killed_with}/{len(plan)} decisions acknowledged, {len(at_kill)} in flight, "
          f"{len(cut)} cut off")
    assert killed_with >= 1 and at_kill  # the kill landed while decisions were being made...
    assert cut & at_kill  # ...and at least one of them was cut off unanswered
    assert not cut & set(acked)

    proc = _start(env, port, workers, log)
    try:
        # Retrying every decision with its Idempotency-Key after the restart acts at most once.
        for item in plan:
            decide(item)
        manager = {"Authorization": f"Bearer {keys['manager']}"}
        events = [json.loads(x) for x in httpx.get(f"{base}/v1/feedback/export", headers=manager, timeout=30)
                  .text.splitlines()]
    finally:
        _kill(proc, signal.SIGTERM)
    decisions: dict[str, list[str]] = {}
    for e in events:
        if e["event"] in ("approved", "edited", "rejected"):
            decisions.setdefault(e["draft_id"], []).append(e["event"])
    first_acked = dict(acked)
    return {"ids": ids, "plan": dict(plan), "acked": first_acked, "decisions": decisions,
            "created": [e["draft_id"] for e in events if e["event"] == "draft_created"]}


def _check(out: dict[str, Any]) -> None:
    want = {"approve": ["approved"], "reject": ["rejected"]}
    for d in out["ids"]:
        assert out["decisions"].get(d) == want[out["plan"][d]], (d, out["decisions"].get(d))
    assert sorted(out["created"]) == sorted(out["ids"])  # every acknowledged creation is there, once


@pytest.mark.slow
def test_sigkill_postgres_two_workers_chroma_server(tmp_path: Path, pg_schema_url: str) -> None:
    cport = _port()
    chroma = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1",
                               "--port", str(cport)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        _wait(f"http://127.0.0.1:{cport}/api/v2/heartbeat", chroma, 60)
        env = {**os.environ, "REPLYDESK_DATA_DIR": str(tmp_path / "data"), "REPLYDESK_DATABASE_URL": pg_schema_url,
               "REPLYDESK_CHROMA_URL": f"http://127.0.0.1:{cport}", "REPLYDESK_RATE_LIMIT_PER_MIN": "0"}
        _check(_run_crash(tmp_path, env, workers=2))
    finally:
        _kill(chroma, signal.SIGTERM)


@pytest.mark.slow
def test_sigkill_sqlite_one_worker(tmp_path: Path) -> None:
    env = {**os.environ, "REPLYDESK_DATA_DIR": str(tmp_path / "data"), "REPLYDESK_RATE_LIMIT_PER_MIN": "0"}
    env.pop("REPLYDESK_DATABASE_URL", None)
    env.pop("REPLYDESK_CHROMA_URL", None)
    _check(_run_crash(tmp_path, env, workers=1))


@pytest.mark.slow
def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    from tests.drafter.llm_server import serve_script

    with serve_script() as (url, script):
        script.default = ("sleep", 2, ("text", "亲，您的包裹已经发出了，中通快递，运单号78812345678901。祝您生活愉快！"))
        env = {**os.environ, "REPLYDESK_DATA_DIR": str(tmp_path / "data"), "REPLYDESK_LLM_BASE_URL": url,
               "REPLYDESK_LLM_MODEL": "slow-model", "REPLYDESK_LLM_TIMEOUT_S": "10"}
        env.pop("REPLYDESK_DATABASE_URL", None)
        env.pop("REPLYDESK_CHROMA_URL", None)
        seed = subprocess.run([str(BIN / "replydesk"), "demo", "seed"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=180)
        key = next(line.split(" key: ")[1] for line in seed.stdout.splitlines() if line.startswith("agent key: "))
        port = _port()
        proc = _start(env, port, 1, tmp_path / "server.log")
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(httpx.post, f"http://127.0.0.1:{port}/v1/drafts",
                              json={"order_id": "T1006", "message": "发货了吗", "composer": "llm"},
                              headers={"Authorization": f"Bearer {key}"}, timeout=30)
            while not script.requests:  # the draft is in flight, waiting on the model
                time.sleep(0.05)
            os.killpg(proc.pid, signal.SIGTERM)
            r = fut.result()
        proc.wait(timeout=30)
        assert r.status_code == 201 and "78812345678901" in r.json()["text"]
        # uvicorn re-raises the signal after its graceful shutdown, so the exit status says SIGTERM.
        assert proc.returncode in (0, -signal.SIGTERM)
