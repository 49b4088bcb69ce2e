"""How long the claim check of an agent's edit takes: ``POST /v1/drafts/{id}/check`` as the review page calls
it while the agent types (debounced 250 ms), in process through FastAPI's TestClient on a SQLite file.

    .venv/bin/python benchmarks/claim_check.py --n 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="rd-bench-check-"))
    os.environ["REPLYDESK_DATA_DIR"] = str(data)
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.seed import seed_demo
    from core.settings import Settings

    app = create_app(Settings())
    with TestClient(app) as client:
        keys = seed_demo(app.state.container, "demo").keys
        h = {"Authorization": f"Bearer {keys['agent']}"}
        d = client.post("/v1/drafts", json={"order_id": "T1003", "message": "都三天了怎么还不发货？"}, headers=h).json()
        texts = [d["text"] + "今天一定给您发出，明天就能到"[: i % 15] for i in range(args.n)]
        for t in texts[:20]:  # warm up
            client.post(f"/v1/drafts/{d['id']}/check", json={"text": t}, headers=h)
        ms = []
        for t in texts:
            t0 = time.perf_counter()
            r = client.post(f"/v1/drafts/{d['id']}/check", json={"text": t}, headers=h)
            ms.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200
        ms.sort()
        print(f"n={len(ms)} text≈{len(texts[-1])} chars  p50={statistics.median(ms):.1f} ms  "
              f"p95={ms[int(0.95 * len(ms)) - 1]:.1f} ms  max={ms[-1]:.1f} ms  load={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
