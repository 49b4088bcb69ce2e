"""Knowledge base jobs over HTTP (no Redis here: the job runs in a thread of the API process)."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.api.conftest import auth

GOOD = "---\nid: gift-wrap\ntitle: 礼品包装\nkind: policy\n---\n礼品包装需在下单时备注，包装费5元。\n"


def _follow(client: TestClient, key: str, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=auth(key)).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError("job did not end")


def test_import_then_reindex_as_jobs_with_progress(client: TestClient, demo: dict[str, str]) -> None:
    key = demo["manager"]
    r = client.post("/v1/knowledge/import", json={"files": [{"name": "gift.md", "content": GOOD}]}, headers=auth(key))
    assert r.status_code == 202 and r.json()["kind"] == "import"
    job = _follow(client, key, r.json()["id"])
    assert job["status"] == "done" and job["result"]["created"] == 1 and job["done"] == job["total"] == 1
    found = client.get("/v1/knowledge/search", params={"q": "可以礼品包装吗"}, headers=auth(key)).json()
    assert found["passages"][0]["id"] == "gift-wrap"

    r = client.post("/v1/knowledge/reindex", headers=auth(key))
    assert r.status_code == 202 and r.json()["status"] in ("queued", "running", "done")
    job = _follow(client, key, r.json()["id"])
    assert job["status"] == "done" and job["done"] == job["total"] == job["result"]["chunks"] > 0
    # Another shop's manager cannot see it.
    assert client.get(f"/v1/jobs/{job['id']}", headers=auth(demo["other-manager"])).status_code == 404


def test_an_invalid_file_is_refused_before_any_job(client: TestClient, demo: dict[str, str]) -> None:
    bad = "---\nid: x\ntitle: 缺kind\n---\n正文\n"
    r = client.post("/v1/knowledge/import", json={"files": [{"name": "bad.md", "content": bad}]},
                    headers=auth(demo["manager"]))
    assert r.status_code == 422 and "bad.md" in r.text and "kind" in r.text
    dup = [{"name": "a.md", "content": GOOD}, {"name": "b.md", "content": GOOD}]
    r = client.post("/v1/knowledge/import", json={"files": dup}, headers=auth(demo["manager"]))
    assert r.status_code == 422 and "gift-wrap" in r.text
