"""Shared helpers for tests that drive a real headless Chromium against a real `replydesk serve`.

Debian's own ``/usr/bin/chromium`` is driven by Playwright for Python: a browser is never downloaded
(these machines have no internet). ``make install`` installs it (target ``system-deps``); without it
a browser test skips on a developer machine and fails in CI, where its absence is a broken install.

    with running_server(tmp_path) as server, chromium() as browser:
        page = new_page(browser)
        page.goto(server.url + "/review")
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
REPLYDESK = ROOT / ".venv" / "bin" / "replydesk"
CHROMIUM = Path("/usr/bin/chromium")
# --headless=new is the real browser (not the old headless shell); the rest keep it off the network
# and quiet: no updates, sync or first-run work while a test runs. --no-sandbox: we may run as root.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_chromium() -> None:
    """Skip when Debian's chromium is missing on a developer machine; in CI that is a failure."""
    if CHROMIUM.exists():
        return
    msg = f"{CHROMIUM} is missing: `make install` installs it (apt-get install chromium fonts-noto-cjk)"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(msg)
    pytest.skip(msg)


@contextmanager
def chromium(**launch: Any) -> Iterator[Any]:
    """A headless Chromium browser (Playwright's sync API), closed afterwards."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=False,
                                     args=[*CHROMIUM_ARGS, *launch.pop("args", [])], **launch)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, *, width: int = 1360, height: int = 900, locale: str = "zh-CN") -> Any:
    """A page in a fresh context that records uncaught script errors in ``page.js_errors``."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                  timezone_id="Asia/Shanghai")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return page


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under test-artifacts/ (repo-relative; CI keeps it) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    keys: dict[str, str]          # role -> key, as `replydesk demo seed` printed them
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] = field(repr=False)

    def client(self, role: str = "agent", timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout,
                            headers={"Authorization": f"Bearer {self.keys[role]}"})

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_server(tmp_path: Path, *, startup_s: float = 120, env: dict[str, str] | None = None,
                   seeded: Any = None, seed: bool = True, workers: int = 1) -> Iterator[Server]:
    """Seed the demo shop into a fresh data dir and run `replydesk serve` on a free port.

    ``env`` adds settings (e.g. ``REPLYDESK_CORS_ORIGINS``). ``seeded`` (the API conftest's session
    seed) is copied instead of running `replydesk demo seed`: its orders were made at the tests' fixed
    time, not the server's; ``seed=False`` starts on an empty database. The server runs in its own process group, which is always killed at the
    end, whatever happened.
    """
    port = free_port()
    env = {**os.environ, **(env or {}), "REPLYDESK_DATA_DIR": str(tmp_path / "data"), "REPLYDESK_PORT": str(port)}
    keys: dict[str, str] = {}
    if seeded is not None:
        shutil.copytree(seeded.data_dir, tmp_path / "data")
        keys = dict(seeded.keys)
    elif seed:
        out = subprocess.run([str(REPLYDESK), "demo", "seed"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        keys = dict(re.findall(r"^(\w+) key: (\S+)$", out.stdout, flags=re.M))
        assert {"agent", "manager"} <= set(keys), out.stdout

    log = tmp_path / "server.log"
    with log.open("wb") as out_file:
        proc = subprocess.Popen([str(REPLYDESK), "serve", "--port", str(port), "--workers", str(workers)],
                                cwd=ROOT, env=env, stdout=out_file, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = Server(url=f"http://127.0.0.1:{port}", keys=keys, env=env, log=log, proc=proc)
    try:
        _wait_healthy(server, startup_s)
        yield server
    finally:
        _stop(proc)


def _wait_healthy(server: Server, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"replydesk serve exited with {server.proc.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"replydesk serve was not healthy after {timeout_s:.0f} s:\n{server.log_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def create_key(server: Server, role: str, *, shop: str = "demo") -> str:
    """A new key for ``role`` from `replydesk keys create` (it prints the key as its last line)."""
    out = subprocess.run([str(REPLYDESK), "keys", "create", "--shop", shop, "--role", role], cwd=ROOT, env=server.env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    key = out.stdout.strip().splitlines()[-1].strip()
    server.keys[role] = key
    return key


# ---- a browser extension (Manifest V3, unpacked) ----

def extension_id(manifest_key: str) -> str:
    """Chrome's id for an extension whose manifest pins ``key`` (its public key, base64 DER).

    The id is the first 32 hex digits of the key's SHA-256, written with the letters a-p for 0-f.
    """
    digest = hashlib.sha256(base64.b64decode(manifest_key)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


@contextmanager
def chromium_with_extension(extension_dir: Path, user_data_dir: Path, *, width: int = 1360, height: int = 900,
                            locale: str = "zh-CN") -> Iterator[Any]:
    """A persistent Chromium context (a profile in ``user_data_dir``) with an unpacked extension loaded.

    Extensions need a persistent context and the real browser: ``headless=False`` for Playwright plus
    Chromium's own ``--headless=new`` (DESIGN, "Pitfalls"). Script errors of every page opened in it are
    recorded in ``context.js_errors``.
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    ext = str(extension_dir.resolve())
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(user_data_dir), headless=False, executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, f"--disable-extensions-except={ext}", f"--load-extension={ext}"],
            viewport={"width": width, "height": height}, locale=locale, timezone_id="Asia/Shanghai")
        errors: list[str] = []
        context.on("page", lambda page: page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}")))
        context.js_errors = errors
        try:
            yield context
        finally:
            context.close()


def extension_worker(context: Any, ext_id: str, timeout_s: float = 15) -> Any:
    """The extension's service worker (started when the profile loads the extension)."""
    prefix = f"chrome-extension://{ext_id}/"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for worker in context.service_workers:
            if worker.url.startswith(prefix):
                return worker
        try:
            context.wait_for_event("serviceworker", timeout=500)
        except Exception:  # Playwright's TimeoutError: look again until the deadline
            pass
    raise AssertionError(f"no service worker of {prefix} started: is the extension loaded?")


def side_by_side(context: Any, shots: list[bytes], name: str) -> Path:
    """Put PNG screenshots next to each other (e.g. a side panel beside its page) and save the result."""
    sizes = [struct.unpack(">II", s[16:24]) for s in shots]  # a PNG's IHDR: width, height
    page = context.new_page()
    try:
        page.set_viewport_size({"width": sum(w for w, _ in sizes) + 2 * len(shots), "height": max(h for _, h in sizes)})
        imgs = "".join(f'<img src="data:image/png;base64,{base64.b64encode(s).decode()}" style="display:block">'
                       for s in shots)
        page.set_content(f'<body style="margin:0;background:#8a919c"><div id="row" style="display:inline-flex;'
                         f'gap:2px;align-items:flex-start">{imgs}</div></body>')
        page.wait_for_function("[...document.images].every((i) => i.complete && i.naturalWidth > 0)")
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        page.locator("#row").screenshot(path=str(path))
        return path
    finally:
        page.close()
