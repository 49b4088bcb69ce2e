"""Guard, repair, fall back: how a model's text becomes (or does not become) a draft."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drafter.guard import GuardReport, Violation
from drafter.guard import check as guard_check
from drafter.intent import Intent
from drafter.llm import LLMClient, LLMError, build_values, repair_message
from drafter.llm_quality import problems
from drafter.request import DraftRequest
from drafter.situation import Situation
from knowledge.shop_settings import ShopSettings
from prompts.loader import PromptRef, load_prompt, parse_prompt_ref, render_prompt


@dataclass
class LLMOutcome:
    text: str | None                 # None: use the template draft
    report: GuardReport | None
    prompt_ref: PromptRef
    repaired: bool = False
    reasons: list[str] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)


def compose_with_llm(llm: LLMClient, intent: Intent, s: Situation, settings: ShopSettings, *,
                     request: DraftRequest, context: list[dict[str, Any]], passages: list[str],
                     refs: tuple[str, ...], prompt: str, redact_text: bool, timings: dict[str, float],
                     on_token: Callable[[str], None] | None = None) -> LLMOutcome:
    t_start = time.perf_counter()
    name, version = parse_prompt_ref(prompt)
    pf = load_prompt(name, version)
    usage = {"calls": 0, "input_tokens": 0, "output_tokens": 0, "model_ms": 0.0}
    sign_off = settings.tone.sign_off or "祝您生活愉快"
    if intent.language == "en":
        sign_off = "Have a nice day!"
    pv = build_values(intent, s, message=request.message, context=context, passages=passages,
                      tone_address=settings.tone.address, sign_off=sign_off, redact_text=redact_text)
    system, user = render_prompt(pf, pv.values)

    def done(out: LLMOutcome) -> LLMOutcome:
        timings["llm_model"] = round(usage["model_ms"], 3)
        timings["llm"] = round((time.perf_counter() - t_start) * 1000, 3)
        out.usage = usage
        return out

    def call(user_text: str) -> str:
        t0 = time.perf_counter()
        if on_token is not None and usage["calls"] == 0:
            parts: list[str] = []
            for piece in llm.stream(system, user_text, temperature=pf.params.temperature,
                                    max_tokens=pf.params.max_tokens):
                parts.append(piece)
                on_token(piece)
            text = "".join(parts).strip()
            usage["calls"] += 1
            usage["model_ms"] += (time.perf_counter() - t0) * 1000
            if not text:
                raise LLMError("the model returned no text", kind="empty")
            return text
        reply = llm.complete(system, user_text, temperature=pf.params.temperature, max_tokens=pf.params.max_tokens)
        usage["calls"] += reply.attempts
        usage["input_tokens"] += reply.input_tokens
        usage["output_tokens"] += reply.output_tokens
        usage["model_ms"] += (time.perf_counter() - t0) * 1000
        return reply.text

    try:
        text = call(user)
    except LLMError as exc:
        return done(LLMOutcome(None, None, pf.ref, reasons=[f"llm_{exc.kind}: {exc}"]))
    def judge(t: str) -> tuple[GuardReport, list[Violation]]:
        rep = guard_check(t, s, known_refs=refs)
        bad = list(rep.violations) + [
            Violation(kind=f"quality:{k}", text=detail, reason="not fit to send to a buyer")
            for k, detail in problems(t, language=intent.language, message=request.message, prompt_text=system)]
        return rep, bad

    report, bad = judge(text)
    if not bad:
        return done(LLMOutcome(text, report, pf.ref))
    first_reasons = [f"{v.kind}: {v.text} ({v.reason})" for v in bad]
    # One repair: the model sees its text and what was wrong with it.
    repair_user = f"{user}\n\n你上一版回复：\n{text}\n\n{repair_message(bad)}"
    try:
        fixed = call(repair_user)
    except LLMError as exc:
        return done(LLMOutcome(None, None, pf.ref, reasons=first_reasons + [f"llm_{exc.kind}: {exc}"]))
    report2, bad2 = judge(fixed)
    if not bad2:
        report2.repaired = True
        report2.reasons = first_reasons
        return done(LLMOutcome(fixed, report2, pf.ref, repaired=True, reasons=first_reasons))
    return done(LLMOutcome(None, None, pf.ref, repaired=True,
                           reasons=first_reasons + [f"after repair: {v.kind}: {v.text} ({v.reason})"
                                                    for v in bad2]))
