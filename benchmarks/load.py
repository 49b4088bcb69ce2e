"""HTTP load benchmark: the API with several workers on PostgreSQL and a Chroma server, template composer.

Loopback only, bounded in count and time. An open-loop client sends drafts at a fixed rate for a
fixed time and counts errors and latencies; a step search finds the highest rate the server
sustains with zero errors and a p99 under the limit. The client shares the 2 cores with the server,
so the figures are a floor for what the server does on a machine of its own.

    python -m benchmarks.load --workers 2 --rates 20,40,60,80,100 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MESSAGES = ["亲，怎么还不发货？", "今天能发吗", "都三天了还没物流", "什么时候发货", "催一下", "单号多少", "发货了吗",
            "物流怎么不动了", "能不能快点发", "还要等多久", "Has my order shipped?", "预售什么时候发", "明天能到吗",
            "拍了两天了还不发", "到底发不发", "我的快递到哪了"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def _drive(base: str, key: str, rate: float, seconds: float, orders: list[str]) -> dict[str, Any]:
    lat: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        rng = random.Random(7)
        tasks = []

        async def one() -> None:
            t0 = time.perf_counter()
            try:
                r = await client.post("/v1/drafts", json={"order_id": rng.choice(orders), "message": rng.choice(MESSAGES)})
                if r.status_code != 201:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                else:
                    lat.append((time.perf_counter() - t0) * 1000)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        start = time.perf_counter()
        while (now := time.perf_counter() - start) < seconds:
            due = int(now * rate) + 1
            while sent < due:
                tasks.append(asyncio.create_task(one()))
                sent += 1
            await asyncio.sleep(max(0.0, (sent / rate) - (time.perf_counter() - start)))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    lat.sort()
    return {"rate": rate, "sent": sent, "ok": len(lat), "errors": errors, "achieved_per_s": round(len(lat) / wall, 1),
            "p50_ms": round(lat[len(lat) // 2], 1) if lat else None,
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 1) if lat else None,
            "mean_ms": round(statistics.fmean(lat), 1) if lat else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rates", default="20,40,60,80,100")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--p99-limit-ms", type=float, default=1000)
    ap.add_argument("--embedded", action="store_true", help="SQLite + embedded Chroma, one worker")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="replydesk-load-"))
    schema = f"load_{uuid.uuid4().hex[:8]}"
    import sqlalchemy as sa

    admin = sa.create_engine(PG)
    if not args.embedded:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    cport, port = _port(), _port()
    procs: list[subprocess.Popen] = []
    results = []
    try:
        env = {**os.environ, "REPLYDESK_DATA_DIR": str(tmp / "data"), "REPLYDESK_RATE_LIMIT_PER_MIN": "0"}
        if args.embedded:
            args.workers = 1
            env.pop("REPLYDESK_DATABASE_URL", None)
            env.pop("REPLYDESK_CHROMA_URL", None)
        else:
            procs.append(subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(tmp / "chroma"), "--host",
                                           "127.0.0.1", "--port", str(cport)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
            _wait(f"http://127.0.0.1:{cport}/api/v2/heartbeat")
            env.update({"REPLYDESK_DATABASE_URL": f"{PG}?options=-csearch_path%3D{schema}",
                        "REPLYDESK_CHROMA_URL": f"http://127.0.0.1:{cport}"})
        seed = subprocess.run([str(BIN / "replydesk"), "demo", "seed"], env=env, cwd=ROOT, capture_output=True, text=True)
        key = next(line.split(" key: ")[1] for line in seed.stdout.splitlines() if line.startswith("agent key: "))
        procs.append(subprocess.Popen([str(BIN / "replydesk"), "serve", "--port", str(port), "--workers",
                                       str(args.workers)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
        base = f"http://127.0.0.1:{port}"
        _wait(f"{base}/healthz")
        orders = [f"T10{i:02d}" for i in range(1, 15)]
        asyncio.run(_drive(base, key, 10, 5, orders))  # warm every worker
        for rate in [float(r) for r in args.rates.split(",")]:
            res = asyncio.run(_drive(base, key, rate, args.seconds, orders))
            res["sustained"] = (not res["errors"] and res["p99_ms"] is not None and res["p99_ms"] <= args.p99_limit_ms
                                and res["achieved_per_s"] >= 0.95 * rate)
            results.append(res)
            print(json.dumps(res), file=sys.stderr)
            if not res["sustained"]:
                break
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if not args.embedded:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    best = max((r["rate"] for r in results if r["sustained"]), default=0)
    print(json.dumps({"mode": "embedded" if args.embedded else "postgresql+chroma-server",
                      "workers": args.workers, "seconds": args.seconds, "highest_sustained_per_s": best,
                      "steps": results}, indent=2))


if __name__ == "__main__":
    main()
