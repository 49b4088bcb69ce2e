"""`make run` as a new user runs it: seeds, prints the keys, serves /healthz on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_make_run_serves_and_prints_two_keys(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "REPLYDESK_DATA_DIR": str(tmp_path / "data"), "REPLYDESK_PORT": str(port)}
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        ok = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ok = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json() == {"status": "ok"}
                if ok:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        log.seek(0)
        out = log.read()
        assert ok, out
        keys = {line.split(" key: ")[0]: line.split(" key: ")[1] for line in out.splitlines() if " key: " in line}
        assert set(keys) == {"agent", "manager"}, out
        assert f"http://127.0.0.1:{port}" in out
        r = httpx.post(f"http://127.0.0.1:{port}/v1/drafts", json={"order_id": "T1006", "message": "发货了吗"},
                       headers={"Authorization": f"Bearer {keys['agent']}"}, timeout=30)
        assert r.status_code == 201 and r.json()["status"] == "pending"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
