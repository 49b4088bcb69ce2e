"""LLM path benchmark: the raw model call vs the full path, and first token → first SSE event.

In one run against the same endpoint (REPLYDESK_LLM_BASE_URL, e.g. `make llm-local`):
- raw: LLMClient.complete() with the same rendered prompt the path sends;
- path: pipeline.run(composer="llm"); its overhead is everything but the model, timed inside the
  process around the model call(s) (timings_ms.total - timings_ms.llm_model);
- stream: the API served by uvicorn in this process, a client reading POST /v1/drafts/stream; the
  time from the SDK yielding the model's first token to the client reading the first `token` event
  (both clocks are this process's perf_counter).
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 12, 11, 0, tzinfo=CST)
CASES = [("T1006", "发货了吗？单号多少"), ("T1004", "我买的杯子什么时候发货"), ("T1003", "都三天了怎么还不发货？"),
         ("T1002", "昨晚拍的，今天能发吗"), ("T1013", "Has my order shipped yet?"), ("T1010", "拍了怎么还不发货")]


def _pct(v: list[float], q: float) -> float:
    s = sorted(v)
    return round(s[max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))], 2) if s else 0.0


def run_llm_bench(settings: Any, rounds: int = 1) -> dict[str, Any]:
    import httpx
    import uvicorn

    from api.app import create_app
    from api.container import Container
    from api.seed import seed_demo
    from core.clock import FixedClock
    from drafter.llm import build_values
    from drafter.pipeline import run
    from drafter.request import DraftRequest
    from prompts.loader import load_prompt, parse_prompt_ref, render_prompt

    tmp = tempfile.TemporaryDirectory(prefix="replydesk-llm-bench-")
    settings = settings.model_copy(update={"data_dir": Path(tmp.name)})
    c = Container.build(settings, clock=FixedClock(NOW))
    keys = seed_demo(c).keys
    services = c.draft_services()
    llm = c.llm_client()
    pf = load_prompt(*parse_prompt_ref(settings.llm_prompt))
    raw_ms: list[float] = []
    path_model_ms: list[float] = []
    overhead_ms: list[float] = []
    for _ in range(rounds):
        for order_id, message in CASES:
            req = DraftRequest(order_id=order_id, message=message)
            result, situation = run(req, "demo", services, composer="llm")
            path_model_ms.append(result.timings_ms.get("llm_model", 0.0))
            overhead_ms.append(result.timings_ms["total"] - result.timings_ms.get("llm_model", 0.0))
            # The raw call: the same first prompt, straight to the endpoint.
            shop = c.shops.get("demo").settings
            from drafter.intent import classify

            intent = classify(message, [])
            pv = build_values(intent, situation, message=message, context=[], passages=[],
                              tone_address=shop.tone.address, sign_off=shop.tone.sign_off or "",
                              redact_text=settings.redact_for_llm, texts=pf.texts)
            system, user = render_prompt(pf, pv.values)
            t0 = time.perf_counter()
            llm.complete(system, user, temperature=pf.params.temperature, max_tokens=pf.params.max_tokens)
            raw_ms.append((time.perf_counter() - t0) * 1000)

    # First token -> first SSE event, through the real HTTP stack.
    first_token_at: list[float] = []
    original = llm.stream

    def timed_stream(*a: Any, **kw: Any) -> Any:
        first = True
        for piece in original(*a, **kw):
            if first:
                first_token_at.append(time.perf_counter())
                first = False
            yield piece

    llm.stream = timed_stream  # type: ignore[method-assign]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(container=c), host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.02)
    gaps: list[float] = []
    template_ms: list[float] = []
    with httpx.Client(timeout=300) as client:
        for order_id, message in CASES:
            first_token_at.clear()
            t_req = time.perf_counter()
            got_token = got_template = None
            with client.stream("POST", f"http://127.0.0.1:{port}/v1/drafts/stream",
                               json={"order_id": order_id, "message": message, "composer": "llm"},
                               headers={"Authorization": f"Bearer {keys['agent']}"}) as resp:
                for line in resp.iter_lines():
                    if line == "event: template" and got_template is None:
                        got_template = time.perf_counter()
                    if line == "event: token" and got_token is None:
                        got_token = time.perf_counter()
            if got_template is not None:
                template_ms.append((got_template - t_req) * 1000)
            if got_token is not None and first_token_at:
                gaps.append((got_token - first_token_at[0]) * 1000)
    server.should_exit = True
    th.join(timeout=10)
    c.close()
    tmp.cleanup()
    model_total = sum(path_model_ms) or 1.0
    return {
        "endpoint": settings.llm_base_url, "model": settings.llm_model, "prompt": settings.llm_prompt,
        "drafts": len(path_model_ms),
        "raw_call_ms": {"p50": _pct(raw_ms, 50), "mean": round(statistics.fmean(raw_ms), 1)},
        "path_model_ms": {"p50": _pct(path_model_ms, 50), "mean": round(statistics.fmean(path_model_ms), 1)},
        "path_overhead_ms": {"p50": _pct(overhead_ms, 50), "max": round(max(overhead_ms), 2)},
        "overhead_share_of_model": round(sum(overhead_ms) / model_total, 5),
        "first_token_to_first_sse_event_ms": {"p50": _pct(gaps, 50), "max": round(max(gaps), 2) if gaps else None,
                                              "n": len(gaps)},
        "template_event_ms": {"p50": _pct(template_ms, 50), "max": round(max(template_ms), 2) if template_ms else None},
    }
