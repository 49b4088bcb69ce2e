"""`replydesk serve`: the database is migrated once, before the workers start; workers never migrate."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from core.db import head_revision, make_engine, migrate
from core.settings import Settings
from tests.api.browser import REPLYDESK, ROOT, running_server


@pytest.mark.slow
def test_two_workers_start_on_a_fresh_postgresql_database_and_migrate_once(
        tmp_path: Path, pg_schema_url: str, chroma_server: str) -> None:
    env = {"REPLYDESK_DATABASE_URL": pg_schema_url, "REPLYDESK_CHROMA_URL": chroma_server,
           "REPLYDESK_RATE_LIMIT_PER_MIN": "0"}
    with running_server(tmp_path, env=env, seed=False, workers=2, startup_s=180) as server:
        for _ in range(6):  # a new connection each time: both workers answer over time
            r = httpx.get(f"{server.url}/readyz", timeout=30)
            assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "index": "ok",
                                                                   "order_source": "ok"}, r.text
        seed = subprocess.run([str(REPLYDESK), "demo", "seed"], cwd=ROOT, env=server.env, capture_output=True,
                              text=True, timeout=300)
        assert seed.returncode == 0, seed.stderr
        agent = dict(re.findall(r"^(\w+) key: (\S+)$", seed.stdout, flags=re.M))["agent"]
        for oid in ("T1003", "T1006"):
            r = httpx.post(f"{server.url}/v1/drafts", json={"order_id": oid, "message": "发货了吗"},
                           headers={"Authorization": f"Bearer {agent}"}, timeout=60)
            assert r.status_code == 201 and r.json()["status"] == "pending", r.text
        log = server.log_text()
    engine = make_engine(pg_schema_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    engine.dispose()
    assert log.count("Application startup complete") == 2, log  # two workers came up
    # serve migrated once, in its own process: alembic applied each revision once; the workers only checked.
    assert log.count("database schema migrated: ") == 1 and "database schema migrated: empty -> " in log, log
    assert log.count("Running upgrade  -> 0001") == 1, log
    assert log.count("migrated before the workers started") == 2, log


def test_a_worker_refuses_a_schema_it_was_not_migrated_to(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", migrate_on_start=False)
    with pytest.raises(RuntimeError, match="schema is at nothing"):
        with TestClient(create_app(settings, with_index=False)):
            pass
    migrate(make_engine(settings.resolved_database_url))
    with TestClient(create_app(settings, with_index=False)) as client:
        assert client.get("/readyz").json()["checks"]["database"] == "ok"


def test_a_worker_opens_every_shops_collection_at_start_up(tmp_path: Path, embedder) -> None:
    from knowledge.index import VectorIndex
    from knowledge.store import KnowledgeDoc

    settings = Settings(data_dir=tmp_path / "data", redis_url=None)
    written = VectorIndex(embedder, path=settings.chroma_path, collection=settings.chroma_collection)
    for shop in ("s1", "s2"):
        written.upsert_doc(KnowledgeDoc(shop_id=shop, id="p", kind="policy", revision=1, title="发货", text="48小时内发货。"))
    with TestClient(create_app(settings)) as client:
        index = client.app.state.container.service.index  # type: ignore[attr-defined]
        # Handles from one listing at start-up: no shop's first draft looks its collection up.
        assert set(index._collections) == {"s1", "s2"}
        assert client.get("/readyz").json()["checks"]["index"] == "ok"
