"""``replydesk eval``: replay scenario files through the pipeline, each in isolation.

Every scenario drafts with its own shop (settings, policies, notices), its own order or order
error and its own clock, inside one throwaway data directory. Shops are cached by content within
a run: scenarios whose shop is the same (the usual case: hundreds of messages against one shop,
or logged cases replayed by the prompt lab) share one shop id, written and embedded once. A shop
is read-only once loaded and the drafter's only state per shop is derived from its content, so
sharing it leaks nothing from one scenario to the next; the clock and the order stay per scenario.
The scenario's ``expect`` is read only by the scorer (``drafter.scoring``), never by the drafter.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.clock import FixedClock
from core.db import make_engine, migrate
from core.errors import InvalidInput
from core.settings import Settings
from drafter.exemplars import ExemplarSource
from drafter.llm_log import LLMCallLog
from drafter.pipeline import DraftServices, run
from drafter.request import DraftRequest
from drafter.result import DraftResult
from drafter.situation import Situation
from knowledge.embeddings import Embedder
from knowledge.orders import OrderFacts
from knowledge.retrieve import Retriever
from knowledge.service import KnowledgeService
from knowledge.shop_settings import ShopSettings
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore
from knowledge.wiring import build_knowledge

RESULT_KEYS = ("id", "text", "intent", "needs_human", "citations", "commitments", "actions", "guard",
               "timings_ms")


@dataclass
class EvalSummary:
    total: int = 0
    drafted: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    must_total: int = 0
    must_ok: int = 0
    scored: int = 0

    @property
    def must_share(self) -> float:
        return self.must_ok / self.must_total if self.must_total else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "drafted": self.drafted, "errors": self.errors,
                "violations": self.violations, "missing": self.missing, "must_ok": self.must_ok, "must_total": self.must_total,
                "must_share": round(self.must_share, 4), "scored": self.scored}


def read_scenarios(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{n}: not valid JSON: {exc.msg}", field="scenarios") from exc
            if not isinstance(obj, dict) or "message" not in obj or "id" not in obj:
                raise InvalidInput(f"{path}:{n}: a scenario needs at least 'id' and 'message'", field="scenarios")
            yield n, obj


class ScenarioRunner:
    """Holds one throwaway database (and index) for a whole eval run."""

    def __init__(self, data_dir: Path, *, retrieval: bool = True, embedder: Embedder | None = None,
                 composer: str = "template", prompt: str | None = None, llm: Any = None,
                 exemplar_limit: int = 3) -> None:
        self.composer, self.prompt, self.llm = composer, prompt, llm
        self.exemplars = False          # set by seed_exemplars: a run without a seeded log uses none
        self.exemplar_limit = exemplar_limit
        self.engine = make_engine(f"sqlite:///{data_dir / 'eval.db'}")
        migrate(self.engine)
        self.clock = FixedClock(datetime.fromisoformat("2026-01-01T00:00:00+08:00"))
        self.shops = ShopStore(self.engine, self.clock)
        self.knowledge = KnowledgeStore(self.engine, self.clock)
        self.service: KnowledgeService | None = None
        self.retriever: Retriever | None = None
        if retrieval:
            # Embedded Chroma in the throwaway directory whatever the environment says: eval shops
            # must never land in a shared index.
            self.service, self.retriever = build_knowledge(Settings(data_dir=data_dir, chroma_url=None),
                                                           self.knowledge, embedder)
        self._loaded: set[str] = set()

    def load_shop(self, sc: dict[str, Any]) -> str:
        """The id of the scenario's shop, written (and embedded) the first time its content is seen."""
        shop = sc.get("shop") or {}
        settings = ShopSettings.model_validate(shop.get("settings") or {})
        policies, notices = shop.get("policies") or [], shop.get("notices") or []
        content = json.dumps({"settings": settings.model_dump(mode="json"), "policies": policies,
                              "notices": notices}, sort_keys=True, ensure_ascii=False, default=str)
        shop_id = "eval-" + hashlib.sha256(content.encode()).hexdigest()[:16]
        if shop_id in self._loaded:
            return shop_id
        self.shops.ensure(shop_id, name=shop_id, settings=settings)
        for pol in policies:
            self._put(shop_id, pol["id"], kind=pol.get("kind", "policy"), title=pol.get("title") or pol["id"],
                      text=pol["text"])
        for n in notices:
            self._put(shop_id, n["id"], kind="notice", title=n.get("title") or n["id"], text=n["text"],
                      valid_from=_dt(n.get("valid_from")), valid_to=_dt(n.get("valid_to")), effects=n.get("effects"))
        self._loaded.add(shop_id)  # only once every document is in: a failed load is retried, and fails again
        return shop_id

    def _put(self, shop_id: str, doc_id: str, **kw: Any) -> None:
        if self.service is not None:
            self.service.upsert(shop_id, doc_id, **kw)
        else:
            self.knowledge.upsert(shop_id, doc_id, **kw)

    def run_one(self, sc: dict[str, Any]) -> DraftResult:
        return self.run_with_situation(sc)[0]

    def run_with_situation(self, sc: dict[str, Any]) -> tuple[DraftResult, Situation]:
        now = _dt(sc.get("now"))
        self.clock.set(now or datetime.fromisoformat("2026-11-01T10:00:00+08:00"))
        shop_id = self.load_shop(sc)
        order = sc.get("order")
        err = sc.get("order_error")
        facts = OrderFacts.model_validate(order) if order else None
        if facts is None and not err:
            err = "not_found"
        order_id = (facts.order_id if facts else None) or str(sc.get("order_id") or "UNKNOWN")
        context = [{"role": c.get("role", "buyer"), "text": c.get("text", ""), "at": c.get("at")}
                   for c in sc.get("context") or []]
        req = DraftRequest(order_id=order_id, message=sc["message"], context=context)  # type: ignore[arg-type]
        services = DraftServices(shops=self.shops, knowledge=self.knowledge, orders=_NoOrders(),
                                 clock=self.clock, retriever=self.retriever, llm=self.llm,
                                 llm_log=LLMCallLog(self.engine, self.clock) if self.llm is not None else None,
                                 exemplars=ExemplarSource(self.engine) if self.exemplars else None,
                                 exemplar_limit=self.exemplar_limit)
        try:
            return run(req, shop_id, services, facts_override=lambda: (facts, err), composer=self.composer,
                       prompt=self.prompt)
        finally:
            services.executor.shutdown(wait=False)


    def seed_exemplars(self, items: Iterable[dict[str, Any]]) -> int:
        """Approved replies for the prompt lab: each item is a scenario (shop, order, clock, message) plus
        ``approved_reply``; it is stored as an approved draft of its shop with the situation it answered,
        exactly as an agent's approval would leave it. Returns how many were stored."""
        from core.ids import new_id
        from core.tables import drafts

        n = 0
        for item in items:
            reply = str(item.get("approved_reply") or "").strip()
            if not reply:
                continue
            saved = (self.composer, self.llm)
            self.composer, self.llm = "template", None
            try:
                r, situation = self.run_with_situation(item)
            finally:
                self.composer, self.llm = saved
            shop_id = self.load_shop(item)
            now = self.clock.now()
            with self.engine.begin() as conn:
                conn.execute(drafts.insert().values(
                    id=new_id("d", now), shop_id=shop_id, order_id=str((item.get("order") or {}).get("order_id") or "X"),
                    status="approved", intent_kind=r.intent.kind, composer="template", message=item["message"],
                    context_json="[]", result_json=r.model_dump_json(), created_at=now, updated_at=now,
                    situation_json=situation.model_dump_json(), final_text=reply, decided_at=now))
            n += 1
        self.exemplars = True
        return n

class _NoOrders:
    def get(self, shop_id: str, order_id: str) -> OrderFacts:  # pragma: no cover - eval overrides facts
        raise RuntimeError("eval scenarios provide their own order facts")


def _dt(v: Any) -> datetime | None:
    if not v:
        return None
    d = datetime.fromisoformat(str(v))
    if d.tzinfo is None:
        raise InvalidInput(f"timestamp {v!r} needs a UTC offset", field="now")
    return d


def result_line(scenario_id: str, r: DraftResult) -> dict[str, Any]:
    full = r.model_dump(mode="json")
    full["id"] = scenario_id
    return {k: full[k] for k in RESULT_KEYS}


def run_eval(scenarios: Iterable[dict[str, Any]], out_lines: Callable[[dict[str, Any]], None], *,
             data_dir: Path | None = None, score: bool = True, retrieval: bool = True,
             embedder: Embedder | None = None,
             progress: Callable[[int], None] | None = None, composer: str = "template",
             prompt: str | None = None, llm: Any = None,
             on_result: Callable[[dict[str, Any], DraftResult], None] | None = None,
             exemplars: Iterable[dict[str, Any]] | None = None,
             on_calls: Callable[[list[dict[str, Any]]], None] | None = None) -> EvalSummary:
    """``exemplars``: a seeded log of approved replies (see ``ScenarioRunner.seed_exemplars``);
    ``on_calls``: receives the run's logged model calls (table llm_calls) before the throwaway DB goes."""
    if score:
        from drafter import scoring

    summary = EvalSummary()
    with tempfile.TemporaryDirectory(prefix="replydesk-eval-") as tmp:
        runner = ScenarioRunner(Path(data_dir or tmp), retrieval=retrieval, embedder=embedder, composer=composer,
                                prompt=prompt, llm=llm)
        if exemplars is not None:
            runner.seed_exemplars(exemplars)
        for sc in scenarios:
            summary.total += 1
            try:
                r = runner.run_one(sc)
            except Exception as exc:  # one bad scenario must not hide the others' results
                summary.errors.append({"id": str(sc.get("id")), "error": f"{type(exc).__name__}: {exc}"})
                if progress:
                    progress(1)
                continue
            line = result_line(str(sc["id"]), r)
            out_lines(line)
            if on_result:
                on_result(sc, r)
            summary.drafted += 1
            if score and isinstance(sc.get("expect"), dict):
                full = r.model_dump(mode="json")
                s = scoring.score(full, sc)
                summary.scored += 1
                summary.must_total += len(s["must"])
                summary.must_ok += sum(1 for m in s["must"] if m["ok"])
                if s["violations"]:
                    summary.violations.append({"id": sc["id"], "violations": s["violations"], "text": r.text})
                for m in s["must"]:
                    if not m["ok"]:
                        summary.missing.append({"id": sc["id"], "must": m["name"], "text": r.text})
            if progress:
                progress(1)
        if on_calls is not None:
            on_calls(LLMCallLog(runner.engine, runner.clock).list(limit=100_000)[::-1])
        runner.engine.dispose()
    return summary
