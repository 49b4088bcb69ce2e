"""`make run` as a new user runs it: checks the port, seeds, serves /healthz on 127.0.0.1, and prints the URL
and the two keys last, once the server answers; the README's curl lines then work as pasted."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
REPLYDESK = ROOT / ".venv" / "bin" / "replydesk"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _readme_try_it() -> str:
    """The README's "Try it" lines that talk to the server (the first sh block after "Try it")."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Try it:\s*```sh\n(.*?)```", text, re.S)
    assert block, "README: no ```sh block after 'Try it:'"
    lines = block.group(1).splitlines()
    # The source line and the curl (with its continuation lines); the other lines are CLI examples.
    keep, cont = [], False
    for ln in lines:
        if ln.startswith((". ", "curl")) or cont:
            keep.append(ln)
            cont = ln.rstrip().endswith("\\")
    return "\n".join(keep)


@pytest.mark.slow
def test_make_run_serves_and_prints_url_and_keys_last(tmp_path: Path) -> None:
    port = _free_port()
    data = tmp_path / "data"
    env = {**os.environ, "REPLYDESK_DATA_DIR": str(data), "REPLYDESK_PORT": str(port)}
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        out = ""
        while time.monotonic() < deadline and proc.poll() is None:
            log.seek(0)
            out = log.read()
            if "manager key: " in out:
                break
            time.sleep(0.3)
        assert "manager key: " in out, out
        # Printed only once the server answers: /healthz is up now, and the banner is the last thing said.
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"status": "ok"}
        time.sleep(1.0)
        log.seek(0)
        out = log.read()
        tail = out[out.index("replydesk is ready"):]
        assert f"http://127.0.0.1:{port}/review" in tail
        keys = dict(re.findall(r"^(agent|manager) key: (\S+)$", tail, flags=re.M))
        assert set(keys) == {"agent", "manager"}, out
        assert "Application startup complete" in out[:out.index("replydesk is ready")], out
        banner = tail.splitlines()
        last_key = max(i for i, ln in enumerate(banner) if " key: " in ln)
        assert banner[last_key - 1].startswith(("agent key: ", "manager key: ")), tail  # the keys come last
        assert "demo.env" in "\n".join(banner[:last_key]), tail
        assert all("replydesk.access" in ln for ln in banner[last_key + 1:] if ln.strip()), tail  # only requests after
        # make run installs no dev tools of its own accord (the recipe syncs with --no-dev).
        assert "--no-dev" in (ROOT / "Makefile").read_text()

        # The README's lines, pasted as they are into a shell at the repository root, make a draft.
        script = _readme_try_it()
        assert "$AGENT_KEY" in script and "$RD_URL" in script, script
        r = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert '"status":"pending"' in r.stdout.replace(" ", "") and '"order_id":"T1003"' in r.stdout.replace(" ", ""), r.stdout
        assert oct((data / "demo.env").stat().st_mode & 0o777) == "0o600"

        # A second server on the same port fails at once, before migrating, seeding or printing keys.
        busy = subprocess.run([str(REPLYDESK), "serve", "--demo", "--port", str(port)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert busy.returncode != 0 and f"127.0.0.1:{port}" in busy.stderr, busy.stderr
        assert "key: " not in busy.stdout and "database schema" not in busy.stdout, busy.stdout
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
