"""Knowledge fixtures: a migrated SQLite file, a fixed clock, the index on embedded Chroma and on a server.

The model (``embedder``), the ``chroma run`` server and Chroma's cache are the root conftest's.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.clock import FixedClock
from core.db import make_engine, migrate
from knowledge.embeddings import E5Embedder
from knowledge.importer import ImportResult, import_dir
from knowledge.index import VectorIndex
from knowledge.retrieve import Retriever
from knowledge.service import KnowledgeService
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore

CST = timezone(timedelta(hours=8))
# Inside the 双11 notice's window (11-11 .. 11-18) and outside the Spring Festival one.
NOW = datetime(2026, 11, 12, 15, 10, tzinfo=CST)
SHOP = "demo"
DEMO_KB = Path(__file__).resolve().parents[2] / "knowledge" / "demo_kb"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    """SQLite; a test run on the Chroma server (``index`` param ``server``) gets PostgreSQL instead,
    as a multi-worker deployment has: the lexical search is the database's, so both engines are tested."""
    callspec = getattr(request.node, "callspec", None)
    on_server = callspec is not None and callspec.params.get("index") == "server"
    url = request.getfixturevalue("pg_schema_url") if on_server else f"sqlite:///{tmp_path}/t.db"
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def store(engine, clock: FixedClock) -> KnowledgeStore:
    ShopStore(engine, clock).ensure(SHOP, name="演示小店")
    return KnowledgeStore(engine, clock)


# The server variant starts and talks to a real `chroma run`: slow (make test runs it, test-fast not).
@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.slow)])
def index(request: pytest.FixtureRequest, tmp_path: Path, embedder: E5Embedder) -> VectorIndex:
    """Every index test runs on embedded Chroma and on a real Chroma server."""
    if request.param == "embedded":
        return VectorIndex(embedder, path=tmp_path / "chroma")
    url = request.getfixturevalue("chroma_server")
    # One collection per test keeps tests apart on the shared server.
    return VectorIndex(embedder, url=url, collection=f"t-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def service(store: KnowledgeStore, index: VectorIndex) -> KnowledgeService:
    return KnowledgeService(store, index)


@pytest.fixture
def retriever(store: KnowledgeStore, index: VectorIndex, embedder: E5Embedder) -> Retriever:
    return Retriever(store, index, embedder)


@pytest.fixture
def demo_kb(service: KnowledgeService) -> ImportResult:
    return import_dir(service, SHOP, DEMO_KB)
