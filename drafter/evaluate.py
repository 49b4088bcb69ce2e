"""``replydesk eval``: replay scenario files through the pipeline, each in isolation.

Every scenario gets its own shop (settings, policies, notices), its own order or order error and
its own clock, inside one throwaway data directory; nothing leaks from one scenario to the next.
The scenario's ``expect`` is read only by the scorer (``drafter.scoring``), never by the drafter.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.clock import FixedClock
from core.db import make_engine, migrate
from core.errors import InvalidInput
from drafter.pipeline import DraftServices, draft
from drafter.request import DraftRequest
from drafter.result import DraftResult
from knowledge.orders import OrderFacts
from knowledge.shop_settings import ShopSettings
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore

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

    def __init__(self, data_dir: Path, *, retriever_factory: Callable[..., Any] | None = None,
                 composer: str = "template", prompt: str | None = None, llm: Any = None) -> None:
        self.composer, self.prompt, self.llm = composer, prompt, llm
        self.engine = make_engine(f"sqlite:///{data_dir / 'eval.db'}")
        migrate(self.engine)
        self.clock = FixedClock(datetime.fromisoformat("2026-01-01T00:00:00+08:00"))
        self.shops = ShopStore(self.engine, self.clock)
        self.knowledge = KnowledgeStore(self.engine, self.clock)
        self.retriever = retriever_factory(self.engine, self.knowledge, data_dir) if retriever_factory else None
        self._seq = 0

    def load_shop(self, sc: dict[str, Any]) -> str:
        self._seq += 1
        shop_id = f"eval-{self._seq:04d}-" + re.sub(r"[^A-Za-z0-9._-]", "_", str(sc["id"]))[:40]
        shop = sc.get("shop") or {}
        settings = ShopSettings.model_validate(shop.get("settings") or {})
        self.shops.ensure(shop_id, name=str(sc["id"]), settings=settings)
        writer = getattr(self.retriever, "service", None)
        for pol in shop.get("policies") or []:
            self._put(writer, shop_id, pol["id"], kind=pol.get("kind", "policy"),
                      title=pol.get("title") or pol["id"], text=pol["text"])
        for n in shop.get("notices") or []:
            self._put(writer, shop_id, n["id"], kind="notice", title=n.get("title") or n["id"], text=n["text"],
                      valid_from=_dt(n.get("valid_from")), valid_to=_dt(n.get("valid_to")))
        return shop_id

    def _put(self, writer: Any, shop_id: str, doc_id: str, **kw: Any) -> None:
        if writer is not None:
            writer.upsert(shop_id, doc_id, **kw)
        else:
            self.knowledge.upsert(shop_id, doc_id, **kw)

    def run_one(self, sc: dict[str, Any]) -> DraftResult:
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
                                 clock=self.clock, retriever=self.retriever, llm=self.llm)
        try:
            return draft(req, shop_id, services, facts_override=lambda: (facts, err), composer=self.composer,
                         prompt=self.prompt)
        finally:
            services.executor.shutdown(wait=False)


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
             data_dir: Path | None = None, score: bool = True,
             retriever_factory: Callable[..., Any] | None = None,
             progress: Callable[[int], None] | None = None, composer: str = "template",
             prompt: str | None = None, llm: Any = None,
             on_result: Callable[[dict[str, Any], DraftResult], None] | None = None) -> EvalSummary:
    if score:
        from drafter import scoring

    summary = EvalSummary()
    with tempfile.TemporaryDirectory(prefix="replydesk-eval-") as tmp:
        runner = ScenarioRunner(Path(data_dir or tmp), retriever_factory=retriever_factory, composer=composer,
                                prompt=prompt, llm=llm)
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
        runner.engine.dispose()
    return summary
