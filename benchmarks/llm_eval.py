"""Figures for the LLM composer against a live model: stand rate, must-share, violations, repairs, latency.

    REPLYDESK_LLM_BASE_URL=http://127.0.0.1:8081/v1 REPLYDESK_LLM_MODEL=qwen2.5-coder-1.5b-instruct-q4_k_m \\
      python -m benchmarks.llm_eval ../shared/eval/dev_scenarios.jsonl --prompt urge_reply@v3 \\
      --out data/eval/llm_v3.json [--calls data/eval/llm_v3_calls.jsonl] [--limit N] [--exemplars FILE]

Writes one JSON summary (and, with --calls, every logged model call: the raw material of the
usefulness check's labelled set). Run it with `nice`: a draft takes ~20 s of CPU on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    from core.clock import SystemClock
    from core.settings import Settings
    from drafter.evaluate import read_scenarios, run_eval
    from drafter.llm import LLMClient
    from drafter.result import DraftResult

    ap = argparse.ArgumentParser()
    ap.add_argument("scenarios", type=Path, nargs="+")
    ap.add_argument("--prompt", default=None, help="NAME@VERSION (default: the LLM_PROMPT setting)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--calls", type=Path)
    ap.add_argument("--limit", type=int, default=0, help="only the first N scenarios of each file")
    ap.add_argument("--exemplars", type=Path)
    ap.add_argument("--only", help="comma-separated scenario ids (e.g. the rest of an interrupted run)")
    args = ap.parse_args(argv)

    settings = Settings()
    args.prompt = args.prompt or settings.llm_prompt
    # One try per call and a long timeout: on a loaded CPU a timed-out request keeps the llama.cpp server
    # busy after the client left, and retries would pile more work on it.
    llm = LLMClient(settings, SystemClock(), budget_s=settings.llm_timeout_s)
    items: list[dict[str, Any]] = []
    for path in args.scenarios:
        rows = [s for _, s in read_scenarios(path)]
        items += rows[:args.limit] if args.limit else rows
    if args.only:
        wanted = set(args.only.split(","))
        items = [s for s in items if s["id"] in wanted]
    seeded = [s for _, s in read_scenarios(args.exemplars)] if args.exemplars else None
    results: list[tuple[dict[str, Any], DraftResult]] = []
    calls: list[dict[str, Any]] = []

    progress = args.out.with_suffix(".progress.jsonl")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    progress.write_text("", encoding="utf-8")

    def keep(sc: dict[str, Any], r: DraftResult) -> None:
        from drafter import scoring

        results.append((sc, r))
        g = r.guard
        # One line per draft as it is made: an interrupted run still leaves its figures.
        scored = scoring.score(r.model_dump(mode="json"), sc) if isinstance(sc.get("expect"), dict) else None
        with progress.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": sc["id"], "draft_id": r.id, "text": r.text, "fell_back": g.fell_back,
                                 "repaired": g.repaired, "reasons": g.reasons, "usage": r.usage,
                                 "total_ms": r.timings_ms.get("total"),
                                 "must": [[m["name"], m["ok"]] for m in scored["must"]] if scored else None,
                                 "violations": scored["violations"] if scored else None},
                                ensure_ascii=False) + "\n")
        state = "fell back" if g.fell_back else ("repaired" if g.repaired else "stood")
        print(f"{sc['id']}: {state} {r.timings_ms.get('total', 0) / 1000:.1f}s  {r.text[:80]!r}", flush=True)

    summary = run_eval(items, lambda _l: None, composer="llm", prompt=args.prompt, llm=llm, on_result=keep,
                       exemplars=seeded, on_calls=calls.extend).as_dict()
    rs = [r for _, r in results]
    n = len(rs) or 1
    out = {
        "model": settings.llm_model, "prompt": args.prompt, "scenarios": [str(p) for p in args.scenarios],
        "limit": args.limit or None, "exemplars": str(args.exemplars) if args.exemplars else None,
        "drafts": len(rs),
        "stood": sum(not r.guard.fell_back for r in rs),
        "stand_rate": round(sum(not r.guard.fell_back for r in rs) / n, 3),
        "stood_first_try": sum(not r.guard.fell_back and not r.guard.repaired for r in rs),
        "repairs_tried": sum(r.guard.repaired for r in rs),
        "repairs_worked": sum(r.guard.repaired and not r.guard.fell_back for r in rs),
        "must_ok": summary["must_ok"], "must_total": summary["must_total"], "must_share": summary["must_share"],
        "must_not_violations": len(summary["violations"]), "violations": summary["violations"],
        "missing": summary["missing"], "errors": summary["errors"],
        "mean_latency_s": round(statistics.fmean(r.timings_ms.get("total", 0) for r in rs) / 1000, 2) if rs else 0,
        "mean_tokens": round(statistics.fmean((r.usage or {}).get("input_tokens", 0) +
                                              (r.usage or {}).get("output_tokens", 0) for r in rs), 1) if rs else 0,
        "mean_output_tokens": round(statistics.fmean((r.usage or {}).get("output_tokens", 0) for r in rs), 1)
        if rs else 0,
        "model_calls": len(calls),
        "texts": [{"id": sc["id"], "draft_id": r.id, "text": r.text, "fell_back": r.guard.fell_back, "repaired": r.guard.repaired,
                   "reasons": r.guard.reasons} for sc, r in results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.calls:
        with args.calls.open("w", encoding="utf-8") as fh:
            for c in calls:
                fh.write(json.dumps(c, ensure_ascii=False) + "\n")
    keys = ("model", "prompt", "drafts", "stand_rate", "repairs_worked", "repairs_tried", "must_share",
            "must_not_violations", "mean_latency_s", "mean_tokens")
    print(json.dumps({k: out[k] for k in keys}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
