"""Guard, usefulness, repair, fall back: how a model's text becomes (or does not become) a draft.

A model's text must pass three checks: the guard (every claim against the facts), the quality gate
(``llm_quality``: prompt leaks, language, length, loops) and the usefulness check (``usefulness``:
does it tell this buyer what the situation says they need, and is it a reply from the shop at all).
A failing text gets ONE repair call that lists its specific problems, worded by the prompt file;
if the repair fails too, the template draft stands. Every call is recorded (``calls``) so the
caller can log it with the draft it belongs to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drafter.guard import GuardReport, Violation
from drafter.guard import check as guard_check
from drafter.intent import Intent
from drafter.llm import LLMClient, LLMError, build_values, repair_message
from drafter.llm_quality import problems as quality_problems
from drafter.request import DraftRequest
from drafter.situation import Situation
from drafter.usefulness import Problem
from drafter.usefulness import check as usefulness_check
from knowledge.shop_settings import ShopSettings
from prompts.loader import PromptFile, PromptRef, load_prompt, parse_prompt_ref, prompt_markers, render_prompt

__all__ = ["CallRecord", "LLMOutcome", "compose_with_llm", "judge"]


@dataclass
class CallRecord:
    """One model call as the llm_calls log keeps it (messages are what was sent: already redacted)."""

    attempt: str                       # first | repair
    prompt: PromptRef
    model: str
    params: dict[str, Any]
    messages: list[dict[str, str]]
    output: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    duration_ms: float = 0.0
    verdict: str = "stood"             # stood | guard_violations | usefulness_problems | error
    problems: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


@dataclass
class LLMOutcome:
    text: str | None                 # None: use the template draft
    report: GuardReport | None
    prompt_ref: PromptRef
    repaired: bool = False
    reasons: list[str] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)


@dataclass
class Judgement:
    report: GuardReport
    guard: list[Violation]
    useless: list[Violation]          # quality and usefulness problems, worded for the repair

    @property
    def ok(self) -> bool:
        return not self.guard and not self.useless

    @property
    def verdict(self) -> str:
        return "stood" if self.ok else ("guard_violations" if self.guard else "usefulness_problems")

    @property
    def all(self) -> list[Violation]:
        return self.guard + self.useless


def judge(text: str, s: Situation, intent: Intent, pf: PromptFile, *, message: str, refs: tuple[str, ...],
          reference: str | None, system: str) -> Judgement:
    """The guard, the quality gate and the usefulness check on one text."""
    rep = guard_check(text, s, known_refs=refs)
    t = pf.texts
    useless = [Violation(kind=f"quality:{k}", text=detail, reason=t.problems.get(k, "not fit to send to a buyer"))
               for k, detail in quality_problems(text, language=intent.language, message=message,
                                                 prompt_text=system, markers=prompt_markers(pf))]
    quality_kinds = {v.kind.split(":", 1)[1] for v in useless}
    for p in usefulness_check(text, s, intent, message=message, reference=reference, markers=prompt_markers(pf)):
        if p.kind == "echo" and "echo" in quality_kinds or p.kind == "instructions" and "prompt_leak" in quality_kinds:
            continue  # already reported by the quality gate: one problem, said once
        useless.append(_worded(p, pf))
    return Judgement(rep, list(rep.violations), useless)


def _worded(p: Problem, pf: PromptFile) -> Violation:
    t = pf.texts
    if p.kind == "missing":
        what = t.what.get(p.quote, p.quote)
        try:
            what = what.format(**p.params)
        except (KeyError, IndexError):
            pass
        reason = t.problems.get("missing", "{what}").format(what=what)
        return Violation(kind=f"usefulness:missing:{p.quote}", text=what, reason=reason)
    return Violation(kind=f"usefulness:{p.kind}", text=p.quote, reason=t.problems.get(p.kind, p.kind))


def compose_with_llm(llm: LLMClient, intent: Intent, s: Situation, settings: ShopSettings, *,
                     request: DraftRequest, context: list[dict[str, Any]], passages: list[str],
                     refs: tuple[str, ...], prompt: str, redact_text: bool, timings: dict[str, float],
                     on_token: Callable[[str], None] | None = None, template_text: str | None = None,
                     exemplars: list[tuple[str, str]] | None = None) -> LLMOutcome:
    t_start = time.perf_counter()
    name, version = parse_prompt_ref(prompt)
    pf = load_prompt(name, version)
    usage = {"calls": 0, "input_tokens": 0, "output_tokens": 0, "model_ms": 0.0}
    sign_off = settings.tone.sign_off or pf.texts.sign_off.get("zh", "")
    if intent.language == "en":  # the shop's sign-off is Chinese
        sign_off = pf.texts.sign_off.get("en", "")
    pv = build_values(intent, s, message=request.message, context=context, passages=passages,
                      tone_address=settings.tone.address, sign_off=sign_off, redact_text=redact_text,
                      texts=pf.texts, draft=template_text or "",
                      exemplars=exemplars if "exemplars" in pf.variables else None)
    system, user = render_prompt(pf, pv.values)
    params = {"temperature": pf.params.temperature, "max_tokens": pf.params.max_tokens}
    calls: list[CallRecord] = []

    def done(out: LLMOutcome) -> LLMOutcome:
        timings["llm_model"] = round(usage["model_ms"], 3)
        timings["llm"] = round((time.perf_counter() - t_start) * 1000, 3)
        out.usage = usage
        out.calls = calls
        return out

    def call(user_text: str, attempt: str) -> CallRecord:
        t0 = time.perf_counter()
        rec = CallRecord(attempt=attempt, prompt=pf.ref, model=llm.model_name, params=params,
                         messages=[{"role": "system", "content": system}, {"role": "user", "content": user_text}],
                         output=None)
        calls.append(rec)
        try:
            if on_token is not None and attempt == "first":
                parts: list[str] = []
                for piece in llm.stream(system, user_text, temperature=pf.params.temperature,
                                        max_tokens=pf.params.max_tokens):
                    parts.append(piece)
                    on_token(piece)
                text = "".join(parts).strip()
                usage["calls"] += 1
                if not text:
                    raise LLMError("the model returned no text", kind="empty")
                rec.output = text
            else:
                reply = llm.complete(system, user_text, temperature=pf.params.temperature,
                                     max_tokens=pf.params.max_tokens)
                usage["calls"] += reply.attempts
                usage["input_tokens"] += reply.input_tokens
                usage["output_tokens"] += reply.output_tokens
                rec.output, rec.input_tokens, rec.output_tokens = reply.text, reply.input_tokens, reply.output_tokens
        except LLMError as exc:
            rec.verdict, rec.error = "error", f"{exc.kind}: {exc}"
            raise
        finally:
            ms = (time.perf_counter() - t0) * 1000
            usage["model_ms"] += ms
            rec.duration_ms = round(ms, 2)
        return rec

    def verdict(rec: CallRecord, j: Judgement) -> None:
        rec.verdict = j.verdict
        rec.problems = [{"kind": v.kind, "text": v.text, "reason": v.reason} for v in j.all]

    def assess(text: str) -> Judgement:
        return judge(text, s, intent, pf, message=request.message, refs=refs, reference=template_text,
                     system=system)

    try:
        first = call(user, "first")
    except LLMError as exc:
        return done(LLMOutcome(None, None, pf.ref, reasons=[f"llm_{exc.kind}: {exc}"]))
    text = first.output or ""
    j1 = assess(text)
    verdict(first, j1)
    if j1.ok:
        return done(LLMOutcome(text, j1.report, pf.ref))
    first_reasons = [f"{v.kind}: {v.text} ({v.reason})" for v in j1.all]
    # One repair: the model sees its text and what exactly was wrong with it.
    t = pf.texts
    repair_user = (f"{user}\n\n{t.previous_reply.format(text=text)}\n\n"
                   f"{repair_message([(v.text, v.reason) for v in j1.all], t)}")
    try:
        second = call(repair_user, "repair")
    except LLMError as exc:
        return done(LLMOutcome(None, None, pf.ref, reasons=first_reasons + [f"llm_{exc.kind}: {exc}"]))
    fixed = second.output or ""
    j2 = assess(fixed)
    verdict(second, j2)
    if j2.ok:
        j2.report.repaired = True
        j2.report.reasons = first_reasons
        return done(LLMOutcome(fixed, j2.report, pf.ref, repaired=True, reasons=first_reasons))
    return done(LLMOutcome(None, None, pf.ref, repaired=True,
                           reasons=first_reasons + [f"after repair: {v.kind}: {v.text} ({v.reason})"
                                                    for v in j2.all]))
