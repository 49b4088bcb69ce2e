"""One draft: intent → live facts → situation → retrieval → compose → guard → result.

Services come in through ``DraftServices`` (order source, knowledge, retriever, clock), so the
same pipeline runs in the API, in ``replydesk eval`` (each scenario with its own shop, order and
clock) and in the benchmark. The clock is always injected.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.clock import Clock
from core.errors import InvalidInput
from drafter.compose import compose, fallback_text
from drafter.guard import GuardReport
from drafter.guard import check as guard_check
from drafter.intent import Intent, classify
from drafter.request import DraftRequest
from drafter.result import Citation, DraftResult
from drafter.situation import Notice, Situation, assess
from knowledge.errors import OrderNotFound
from knowledge.orders import OrderFacts, OrderSource
from knowledge.shop_settings import ShopSettings

log = logging.getLogger("replydesk.pipeline")

__all__ = ["DraftServices", "draft", "gather_facts", "run"]


class _Retriever(Protocol):
    def retrieve(self, shop_id: str, query: str, k: int = 4, now: Any = None,
                 kinds: Any = None) -> list[Any]: ...


class _Knowledge(Protocol):
    def active_notices(self, shop_id: str, at: Any, *, counter: int | None = None) -> list[Any]: ...


class _Shops(Protocol):
    def get(self, shop_id: str) -> Any: ...


@dataclass
class DraftServices:
    shops: _Shops
    knowledge: _Knowledge
    orders: OrderSource
    clock: Clock
    retriever: _Retriever | None = None
    order_timeout_s: float = 2.0
    retrieve_k: int = 4
    llm: Any = None                      # drafter.llm.LLMClient when an LLM is configured
    prompt: str = "urge_reply@v3"
    prompt_ab: str | None = None
    redact_for_llm: bool = True
    llm_log: Any = None                  # drafter.llm_log.LLMCallLog: every model call is recorded
    exemplars: Any = None                # drafter.exemplars.ExemplarSource: the shop's approved replies
    exemplar_limit: int = 3
    # Facts read longer ago than this (``fetched_at``) are not used for status claims.
    max_facts_age_s: float | None = None
    # drafter.insights.service.UrgeInsights: surge detection after each stored draft (None: events only).
    insights: Any = None
    # (shop, order) -> actions already done for the order (``ActionDesk.done_actions``): only those may
    # be said to be done. None: nothing is known to be done.
    done_actions: Callable[[str, str], dict[str, str]] | None = None
    # One small pool shared by drafts: the order call runs there so a hung source costs a timeout,
    # not a worker.
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        max_workers=8, thread_name_prefix="order-source"))


_STATE_HINTS = {
    "awaiting_dispatch": "发货时效 发货时间 截单",
    "out_of_stock": "缺货 补货 退款",
    "presale": "预售 发货时间",
    "partial": "缺货 补货 分开发货",
    "shipped": "物流 快递 单号",
    "stuck": "物流异常 物流不更新 联系快递",
    "signed": "签收 未收到 售后",
    "unpaid": "未付款 付款",
    "closed": "订单关闭 退款",
    "refunding": "退款",
    "forbidden": "限制发货",
}


def gather_facts(orders: OrderSource, executor: ThreadPoolExecutor, shop_id: str, order_id: str,
                 timeout_s: float) -> tuple[OrderFacts | None, str | None]:
    """Live order facts, or (None, reason). A slow or failing source means "unknown", never a guess."""
    fut = executor.submit(orders.get, shop_id, order_id)
    try:
        return fut.result(timeout=timeout_s), None
    except FutureTimeout:
        fut.cancel()
        log.warning("order source timed out after %.1fs for %s", timeout_s, order_id)
        return None, "timeout"
    except OrderNotFound:
        return None, "not_found"
    except Exception as exc:  # the source is outside our control; say less, do not fail the draft
        log.warning("order source failed for %s: %s", order_id, exc)
        return None, "unavailable"


def draft(request: DraftRequest, shop_id: str, services: DraftServices, *,
          facts_override: Callable[[], tuple[OrderFacts | None, str | None]] | None = None,
          composer: str = "template", prompt: str | None = None) -> DraftResult:
    """Draft a reply. ``facts_override`` lets eval hand in a scenario's order or error."""
    return run(request, shop_id, services, facts_override=facts_override, composer=composer, prompt=prompt)[0]


def run(request: DraftRequest, shop_id: str, services: DraftServices, *,
        facts_override: Callable[[], tuple[OrderFacts | None, str | None]] | None = None,
        composer: str = "template", prompt: str | None = None,
        on_template: Callable[[DraftResult], None] | None = None,
        on_token: Callable[[str], None] | None = None) -> tuple[DraftResult, Situation]:
    """The draft and the situation it was checked against (kept to re-check an agent's edit).

    The template draft is always made first: ``on_template`` receives it at once (with the
    template composer it is the result). With ``composer="llm"`` it is also the fallback; the
    model's text replaces it only if it passes the guard, at most after one repair.
    """
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    clock = services.clock

    def step(name: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        out = fn()
        timings[name] = round((time.perf_counter() - t) * 1000, 3)
        return out

    context = [c.model_dump() for c in request.context]
    intent: Intent = step("intent", lambda: classify(request.message, context))
    if facts_override is not None:
        facts, order_error = step("facts", facts_override)
    else:
        facts, order_error = step("facts", lambda: gather_facts(
            services.orders, services.executor, shop_id, request.order_id, services.order_timeout_s))

    now = clock.now()
    facts_age_s = round((now - facts.fetched_at).total_seconds(), 1) if facts and facts.fetched_at else None
    assessed = facts
    if facts_age_s is not None and services.max_facts_age_s is not None and facts_age_s > services.max_facts_age_s:
        # Too old to stand for the order's status: shown to the agent, never claimed to the buyer.
        assessed, order_error = None, "unavailable"
    shop = services.shops.get(shop_id)
    settings: ShopSettings = shop.settings
    notices = [Notice(id=n.id, revision=n.revision, text=n.text, valid_from=n.valid_from, valid_to=n.valid_to,
                      effects=list(getattr(n, "effects", None) or []))
               for n in services.knowledge.active_notices(shop_id, now,
                                                          counter=getattr(shop, "knowledge_counter", None))]
    situation: Situation = step("situation", lambda: assess(
        assessed, settings, notices, now, order_error=order_error, message_hint=request.message))
    if services.done_actions is not None:
        situation.done_actions = services.done_actions(shop_id, request.order_id)

    passages: list[Citation] = []
    passage_texts: list[str] = []
    if services.retriever is not None and intent.kind != "other":
        query = f"{request.message} {_STATE_HINTS.get(situation.state, '')}".strip()
        hits = step("retrieve", lambda: services.retriever.retrieve(  # type: ignore[union-attr]
            shop_id, query, k=services.retrieve_k, now=now, kinds=("policy", "style")))
        seen: set[str] = set()
        for h in hits:
            if h.id not in seen:
                seen.add(h.id)
                passages.append(Citation(kind=h.kind if h.kind in ("policy", "style") else "policy",
                                         id=h.id, revision=h.revision))
                passage_texts.append(f"{getattr(h, 'title', h.id)}：{getattr(h, 'text', '')}")
    else:
        timings["retrieve"] = 0.0

    seed = f"{shop_id}|{request.order_id}|{request.message}"
    comp = step("compose", lambda: compose(intent, situation, settings, message=request.message,
                                           seed=seed, passages=passages[:3]))
    refs = tuple(x for x in (request.order_id, facts.order_id if facts else None) if x)
    refs += tuple(_numbers_in(request.message, context))
    report: GuardReport = step("guard", lambda: guard_check(comp.text, situation, known_refs=refs))

    text, needs_human, reason = comp.text, comp.needs_human, comp.human_reason
    if not report.ok:
        # A template that fails the guard is a bug in a phrase; never send it, say less instead.
        log.error("template draft failed the guard: %s", [v.model_dump() for v in report.violations])
        text = fallback_text(intent, settings, seed, situation)
        fallback_report = guard_check(text, situation, known_refs=refs)
        report = GuardReport(ok=fallback_report.ok, claims=fallback_report.claims,
                             violations=fallback_report.violations, fell_back=True,
                             reasons=[f"{v.kind}: {v.reason}" for v in report.violations])
        needs_human, reason = True, "the draft failed the claim check; a safe holding reply was used"

    def result(text: str, report: GuardReport, composer_used: str, model: str | None, prompt_ref: Any,
               usage: dict[str, Any] | None = None) -> DraftResult:
        used = {c.supported_by for c in report.claims if c.supported_by}
        commitments = [c for c in situation.commitments if c.support in used
                       or (c.kind == "forward_request" and any(a.kind == "contact_courier" for a in comp.actions))]
        timings["total"] = round((time.perf_counter() - t_all) * 1000, 3)
        return DraftResult(
            text=text, composer=composer_used, model=model, intent=intent,  # type: ignore[arg-type]
            needs_human=needs_human, human_reason=reason, citations=comp.citations, commitments=commitments,
            actions=comp.actions, guard=report, prompt=prompt_ref,
            facts=facts.model_dump(mode="json") if facts else None, order_error=order_error,
            facts_age_s=facts_age_s, timings_ms=dict(timings), usage=usage)

    template_result = result(text, report, "template", None, comp.prompt)
    if on_template is not None:
        on_template(template_result)
    if composer != "llm":
        return template_result, situation
    if services.llm is None:
        raise InvalidInput("this server has no LLM configured; use composer 'template'", field="composer")
    from core.ids import new_id
    from drafter.llm_compose import compose_with_llm

    # The draft's id is fixed before the model is called, so its logged calls carry it (Review.create keeps it).
    draft_id = new_id("d", now)
    exemplars = (services.exemplars.for_state(shop_id, situation.state, services.exemplar_limit)
                 if services.exemplars is not None else None)
    outcome = compose_with_llm(
        services.llm, intent, situation, settings, request=request, context=context, passages=passage_texts,
        refs=refs, prompt=choose_prompt(prompt or services.prompt, services.prompt_ab, request.order_id),
        redact_text=services.redact_for_llm, timings=timings, on_token=on_token,
        template_text=text if report.ok else None, exemplars=exemplars)
    if services.llm_log is not None:
        try:
            services.llm_log.record(shop_id, draft_id, outcome.calls)
        except Exception:  # the log must never cost the agent a draft
            log.exception("could not record the model calls of draft %s", draft_id)
    if outcome.text is None:  # the model failed or kept failing the checks: the template draft stands
        fell = template_result.guard.model_copy(update={"fell_back": True, "repaired": outcome.repaired,
                                                        "reasons": outcome.reasons})
        out = result(text, fell, "llm", services.llm.model_name, outcome.prompt_ref, outcome.usage)
    else:
        out = result(outcome.text, outcome.report, "llm", services.llm.model_name,  # type: ignore[arg-type]
                     outcome.prompt_ref, outcome.usage)
    return out.model_copy(update={"id": draft_id}), situation


def choose_prompt(default: str, ab: str | None, order_id: str) -> str:
    """``ab`` = "urge_reply@v2:30": 30% of orders get v2, always the same orders (sticky per order)."""
    if not ab:
        return default
    ref, _, pct = ab.rpartition(":")
    try:
        share = float(pct)
    except ValueError:
        return default
    bucket = int(hashlib.sha256(order_id.encode()).hexdigest()[:8], 16) % 100
    return ref if bucket < share else default


def _numbers_in(message: str, context: list[dict]) -> list[str]:
    import re

    texts = [message] + [c.get("text", "") for c in context if c.get("role") == "buyer"]
    return [m for t in texts for m in re.findall(r"[A-Za-z]{0,4}\d{6,}", t)]
