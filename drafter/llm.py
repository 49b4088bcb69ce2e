"""The LLM composer: a model phrases the reply; it never decides what is true.

The model gets the situation's facts, the allowed and forbidden commitments and the retrieved
policies (redacted when ``REDACT_FOR_LLM`` is on); the buyer's words go in as delimited data.
Its text is then held to the guard like any other text: a violation gets one repair call that
lists the violations, and a second failure falls back to the template draft.

Transport problems (timeouts, 429, 5xx, empty or garbled output) are retried with backoff within
a time budget; a circuit breaker stops calling an endpoint that keeps failing, so a dead model
costs one fast fallback per draft, not a timeout.

One code path serves OpenAI, DeepSeek, Qwen (DashScope compatible mode), vLLM, Ollama and
llama.cpp's server: LangChain's ``ChatOpenAI`` with ``base_url``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from core.clock import Clock
from core.settings import Settings
from drafter.intent import Intent
from drafter.redact import redact
from drafter.situation import Situation
from prompts.loader import PromptFile, PromptTexts, load_prompt, render_prompt

log = logging.getLogger("replydesk.llm")

__all__ = ["CircuitBreaker", "LLMClient", "LLMError", "LLMReply", "build_values", "repair_message"]


class LLMError(Exception):
    """The model could not give a usable reply (after retries); the caller falls back."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # timeout | rate_limited | server_error | empty | garbled | circuit_open | config


@dataclass
class LLMReply:
    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    duration_ms: float = 0.0
    attempts: int = 1


class CircuitBreaker:
    """Open after ``threshold`` consecutive failures; half-open again after ``cooldown_s``."""

    def __init__(self, clock: Clock, threshold: int = 3, cooldown_s: float = 30.0) -> None:
        self.clock, self.threshold, self.cooldown_s = clock, threshold, cooldown_s
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def allow(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return True
            if self._now() - self._opened_at >= self.cooldown_s:
                self._opened_at = None  # half-open: let one call through
                self._failures = self.threshold - 1
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._failures, self._opened_at = 0, None

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._opened_at = self._now()

    @property
    def open(self) -> bool:
        return self._opened_at is not None


_RETRYABLE = ("timeout", "rate_limited", "server_error", "empty", "garbled", "connection")


def _classify(exc: Exception) -> str:
    import openai

    if isinstance(exc, LLMError):
        return exc.kind
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
        return "timeout"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.APIStatusError):
        return "server_error" if exc.status_code >= 500 else "client_error"
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError)):
        return "garbled"  # a body the SDK could not parse
    return "error"


def _usable(text: str) -> str:
    t = (text or "").strip()
    if not t:
        raise LLMError("the model returned no text", kind="empty")
    letters = sum(ch.isalpha() or "\u4e00" <= ch <= "\u9fff" for ch in t)
    if letters < max(2, len(t) // 5) or "\ufffd" in t:
        raise LLMError("the model returned unreadable text", kind="garbled")
    return t


class LLMClient:
    """Chat completions over any OpenAI-compatible endpoint, through LangChain's ``ChatOpenAI``."""

    def __init__(self, settings: Settings, clock: Clock, *, transport: httpx.BaseTransport | None = None,
                 budget_s: float | None = None, sleep: Callable[[float], None] = time.sleep,
                 breaker: CircuitBreaker | None = None) -> None:
        if not settings.llm_base_url or not settings.llm_model:
            raise LLMError("set REPLYDESK_LLM_BASE_URL and REPLYDESK_LLM_MODEL to use the LLM composer",
                           kind="config")
        self.settings = settings
        self.clock = clock
        self.transport = transport
        self.budget_s = budget_s if budget_s is not None else settings.llm_timeout_s * 2
        self.sleep = sleep
        self.breaker = breaker or CircuitBreaker(clock)
        self._models: dict[tuple[float, int], Any] = {}
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return str(self.settings.llm_model)

    def _chat(self, temperature: float, max_tokens: int) -> Any:
        """One ChatOpenAI per (temperature, max_tokens), built on first use (never at import)."""
        key = (temperature, max_tokens)
        with self._lock:
            if key not in self._models:
                from langchain_openai import ChatOpenAI

                s = self.settings
                kwargs: dict[str, Any] = {}
                # llama.cpp's server ignores max_completion_tokens (and then writes until the context is
                # full), while OpenAI's newer models want it: the parameter's name is a setting.
                if s.llm_max_tokens_param == "max_tokens":
                    kwargs["extra_body"] = {"max_tokens": max_tokens}
                else:
                    kwargs["max_tokens"] = max_tokens
                http_client = httpx.Client(transport=self.transport, timeout=s.llm_timeout_s) if self.transport else None
                self._models[key] = ChatOpenAI(
                    model=str(s.llm_model), base_url=s.llm_base_url,
                    api_key=s.llm_api_key.get_secret_value() if s.llm_api_key else "not-needed",  # type: ignore[arg-type]
                    temperature=temperature, timeout=s.llm_timeout_s, max_retries=0, http_client=http_client,
                    **kwargs)
            return self._models[key]

    def _messages(self, system: str, user: str) -> list[Any]:
        from langchain_core.messages import HumanMessage, SystemMessage

        if self.settings.llm_system_role:
            return [SystemMessage(system), HumanMessage(user)]
        # Gemma's chat format has no system role (llama.cpp drops it): put the instructions first.
        return [HumanMessage(f"{system}\n\n{user}")]

    def complete(self, system: str, user: str, *, temperature: float, max_tokens: int) -> LLMReply:
        """One completion, retried with backoff on transport failures within the time budget."""
        messages = self._messages(system, user)
        start = time.perf_counter()
        delay = 0.25
        attempt = 0
        # The breaker counts failed calls (after their retries), not attempts.
        if not self.breaker.allow():
            raise LLMError("the model endpoint is failing; not calling it for a while", kind="circuit_open")
        while True:
            attempt += 1
            t0 = time.perf_counter()
            try:
                msg = self._chat(temperature, max_tokens).invoke(messages)
                text = _usable(str(msg.content))
                usage = getattr(msg, "usage_metadata", None) or {}
                self.breaker.success()
                return LLMReply(text=text, model=self.model_name, input_tokens=int(usage.get("input_tokens", 0)),
                                output_tokens=int(usage.get("output_tokens", 0)),
                                duration_ms=round((time.perf_counter() - t0) * 1000, 2), attempts=attempt)
            except Exception as exc:  # classified below; anything unknown is not retried
                kind = _classify(exc)
                elapsed = time.perf_counter() - start
                log.warning("LLM call failed (%s, attempt %d): %s", kind, attempt, exc)
                if kind not in _RETRYABLE or elapsed + delay >= self.budget_s:
                    self.breaker.failure()
                    raise LLMError(f"model call failed: {kind}", kind=kind) from exc
                wait = _retry_after(exc) or delay
                self.sleep(min(wait, max(0.0, self.budget_s - elapsed)))
                delay *= 2

    def stream(self, system: str, user: str, *, temperature: float, max_tokens: int,
               on_first_token: Callable[[], None] | None = None) -> Iterator[str]:
        """Tokens as the model writes them (no retries: a broken stream ends in the guarded final)."""
        if not self.breaker.allow():
            raise LLMError("the model endpoint is failing; not calling it for a while", kind="circuit_open")
        try:
            first = True
            for chunk in self._chat(temperature, max_tokens).stream(self._messages(system, user), stream_usage=True):
                piece = str(chunk.content or "")
                if piece:
                    if first and on_first_token:
                        on_first_token()
                    first = False
                    yield piece
            self.breaker.success()
        except LLMError:
            raise
        except Exception as exc:
            self.breaker.failure()
            raise LLMError(f"model stream failed: {_classify(exc)}", kind=_classify(exc)) from exc


def _retry_after(exc: Exception) -> float | None:
    resp = getattr(exc, "response", None)
    try:
        v = resp.headers.get("retry-after") if resp is not None else None
        return min(float(v), 5.0) if v else None
    except (TypeError, ValueError):
        return None


# -- what the model is told ----------------------------------------------------------------------
# Every word below comes from the prompt file's ``texts`` (prompts/urge_reply/vN.yaml), so the file's
# content hash covers everything the model reads; this code only decides which pieces apply.

@dataclass
class PromptValues:
    values: dict[str, str]
    redacted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _default_texts() -> PromptTexts:
    return load_prompt("urge_reply", "v1").texts


def _d(d: Any, t: PromptTexts) -> str:
    return t.facts.date.format(month=d.month, day=d.day) if d else ""


def facts_sheet(s: Situation, texts: PromptTexts | None = None) -> list[str]:
    """The situation as plain statements; nothing here is inferred beyond what assess() decided."""
    t = texts or _default_texts()
    f = t.facts
    out: list[str] = []
    if not s.facts_known:
        out.append(f.unavailable if s.state == "unavailable" else f.not_found)
        return out
    out.append(f.states.get(s.state, f.state_default))
    if s.overdue and s.promised_ship_by:
        out.append(f.overdue.format(date=_d(s.promised_ship_by, t)))
    for v in s.shipments:
        out.append(f.parcel.format(n=v.index + 1, carrier=v.carrier or f.unknown_value,
                                   tracking=v.tracking_no or f.unknown_value, event=v.last_event or f.no_event))
    for p in s.pending_items:
        if p.stock == "out_of_stock":
            eta = f.restock_eta.format(date=_d(p.restock_eta, t)) if p.restock_eta else f.restock_unknown
            out.append(f.out_of_stock.format(title=p.title or f.item_default, eta=eta))
    if s.presale_from or s.presale_by:
        out.append(f.presale.format(start=_d(s.presale_from, t), end=_d(s.presale_by, t)))
    for n in s.notices:
        out.append(f.notice.format(text=n.text))
    return out


def commitments_text(s: Situation, texts: PromptTexts | None = None) -> tuple[list[str], list[str]]:
    t = texts or _default_texts()
    c = t.commitments
    allowed: list[str] = []
    for k in s.commitments:
        if k.kind in ("dispatch_on", "dispatch_by", "dispatch_from"):
            allowed.append(getattr(c, k.kind).format(date=_d(_date(k.value), t)))
        elif k.kind == "share_tracking":
            allowed.append(c.share_tracking.format(value=k.value))
        elif k.kind == "forward_request":
            allowed.append(c.forward_request)
    allowed += c.always
    forbidden = list(c.forbidden_always)
    if not s.shipments:
        forbidden.append(c.forbidden_not_shipped)
    if not s.may_claim_arranged:
        forbidden.append(c.forbidden_not_arranged)
    if s.dispatch_on is None:
        forbidden.append(c.forbidden_no_dispatch_day)
    return allowed, forbidden


def _date(v: str) -> Any:
    from datetime import date

    return date.fromisoformat(v)


def _lines(items: list[str], t: PromptTexts) -> str:
    return "\n".join(t.line.format(text=i) for i in items) or t.none


def build_values(intent: Intent, s: Situation, *, message: str, context: list[dict[str, Any]],
                 passages: list[str], tone_address: str, sign_off: str, redact_text: bool,
                 texts: PromptTexts | None = None, draft: str = "",
                 exemplars: list[tuple[str, str]] | None = None) -> PromptValues:
    """The values every prompt version may use; a version's ``variables`` pick the ones it renders.

    ``draft`` is the guarded template draft (the rewrite prompt's starting point); ``exemplars`` are the
    shop's approved (message, reply) pairs, newest first, already chosen and redacted by the caller.
    """
    t = texts or _default_texts()
    def red(x: str) -> str:
        return (redact(x) or "") if redact_text else x

    allowed, forbidden = commitments_text(s, t)
    roles = t.roles
    ctx = "\n".join(f"{roles.get('buyer' if c.get('role') == 'buyer' else 'agent', '')}: {red(c.get('text', ''))}"
                    for c in context[-10:])
    shown = ""
    if exemplars and t.exemplar:
        rows = [t.exemplar.format(message=_untagged(red(m)), reply=_untagged(red(r))) for m, r in exemplars]
        shown = "\n" + "\n".join([t.exemplars_header, *rows]) + "\n"
    return PromptValues({
        "language": t.languages.get(intent.language, intent.language),
        "tone_address": tone_address,
        "sign_off": sign_off,
        "facts": _lines(facts_sheet(s, t), t),
        "allowed": _lines(allowed, t),
        "forbidden": _lines(forbidden, t),
        "passages": _lines([red(p) for p in passages], t),
        "context": ctx or t.none.lstrip("- "),
        "message": red(message) or "",
        "draft": draft,
        "exemplars": shown,
    }, redacted=redact_text)


def _untagged(text: str) -> str:
    # An exemplar is past buyer text: it may not open or close a data block either.
    return re.sub(r"</?\s*(?:buyer_message|conversation)\s*>", "", text)


def repair_message(problems: list[tuple[str, str]], texts: PromptTexts | None = None) -> str:
    """The one repair call's instruction: each (quoted text, reason) the checks found."""
    t = texts or _default_texts()
    lines = "\n".join(t.repair_problem.format(text=q, reason=r) for q, r in problems)
    return t.repair.format(problems=lines)


def render(prompt: PromptFile, pv: PromptValues) -> tuple[str, str]:
    return render_prompt(prompt, pv.values)
