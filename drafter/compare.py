"""``replydesk prompts compare A B``: the same scenarios through two prompt versions, side by side."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from drafter.evaluate import run_eval
from drafter.result import DraftResult


def compare(prompts: list[str], scenarios: list[dict[str, Any]], *, llm: Any,
            retrieval: bool = True, exemplars: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One row per prompt; with a seeded log of approved replies (``exemplars``), each prompt that takes
    exemplars runs a second time with them (row "NAME@VERSION +exemplars"), so their effect shows."""
    from prompts.loader import load_prompt, parse_prompt_ref

    runs: list[tuple[str, str, list[dict[str, Any]] | None]] = []
    for ref in prompts:
        runs.append((ref, ref, None))
        if exemplars and "exemplars" in load_prompt(*parse_prompt_ref(ref)).variables:
            runs.append((f"{ref} +exemplars", ref, exemplars))
    rows = []
    for label, ref, seeded in runs:
        results: list[DraftResult] = []

        def keep(_sc: dict[str, Any], r: DraftResult, out: list[DraftResult] = results) -> None:
            out.append(r)

        summary = run_eval(scenarios, lambda _line: None, composer="llm", prompt=ref, llm=llm,
                           retrieval=retrieval, on_result=keep, exemplars=seeded)
        rows.append(row(label, results, summary.as_dict()))
    return rows


def row(ref: str, results: Iterable[DraftResult], summary: dict[str, Any]) -> dict[str, Any]:
    rs = list(results)
    n = len(rs) or 1
    caught = sum(len(r.guard.reasons) for r in rs)
    return {
        "prompt": ref,
        "drafts": len(rs),
        "violations_caught": caught,
        "repaired": sum(r.guard.repaired and not r.guard.fell_back for r in rs),
        "fallbacks": sum(r.guard.fell_back for r in rs),
        "fallback_rate": round(sum(r.guard.fell_back for r in rs) / n, 3),
        "must_share": summary["must_share"] if summary["must_total"] else None,
        "must_not_violations": len(summary["violations"]),
        "mean_length": round(statistics.fmean(len(r.text) for r in rs), 1) if rs else 0,
        "mean_latency_ms": round(statistics.fmean(r.timings_ms.get("total", 0) for r in rs), 1) if rs else 0,
        "mean_tokens": round(statistics.fmean((r.usage or {}).get("input_tokens", 0) +
                                              (r.usage or {}).get("output_tokens", 0) for r in rs), 1) if rs else 0,
        "errors": len(summary["errors"]),
    }


def scenarios_from_log(events: Iterable[dict[str, Any]], settings: dict[str, Any], limit: int = 200) -> list[dict[str, Any]]:
    """Replayable cases from the feedback log's draft_created events (already redacted)."""
    out = []
    for e in events:
        if e["event"] != "draft_created" or not e.get("message"):
            continue
        out.append({"id": e["draft_id"], "now": e["at"], "order": e.get("facts"),
                    "order_error": None if e.get("facts") else "not_found", "order_id": e.get("order_id"),
                    "message": e["message"], "context": [], "shop": {"settings": settings}})
        if len(out) >= limit:
            break
    return out


def table(rows: list[dict[str, Any]]) -> str:
    cols = ["prompt", "drafts", "violations_caught", "repaired", "fallbacks", "must_share", "must_not_violations",
            "mean_length", "mean_latency_ms", "mean_tokens"]
    widths = {c: max(len(c), *(len(str(r.get(c))) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(str(r.get(c)).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)
