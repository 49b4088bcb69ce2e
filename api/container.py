"""Wiring: build every service once from the settings. Nothing here runs at import time."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from core.clock import Clock, SystemClock
from core.db import make_engine, migrate
from core.settings import Settings
from drafter.drafts import DraftStore
from drafter.feedback import FeedbackLog
from drafter.pipeline import DraftServices
from drafter.review import Review
from knowledge.order_store import SqlOrderStore
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore

log = logging.getLogger("replydesk")


@dataclass
class Container:
    settings: Settings
    clock: Clock
    engine: Any
    shops: ShopStore
    knowledge: KnowledgeStore
    orders: Any
    drafts: DraftStore
    keys: Any
    review: Review
    feedback: FeedbackLog
    service: Any = None      # knowledge writes that keep the index in step
    retriever: Any = None
    sources: Any = None      # knowledge.sources.router.OrderSources: what drafts read orders from
    events: Any = None       # knowledge.sources.events.OrderEvents: pushed order updates
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        max_workers=8, thread_name_prefix="order-source"))

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None, orders: Any = None,
              with_index: bool = True, run_migrations: bool = True) -> Container:
        from api.keys import KeyStore

        clock = clock or SystemClock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        if run_migrations:
            migrate(engine)
        knowledge = KnowledgeStore(engine, clock)
        c = cls(settings=settings, clock=clock, engine=engine, shops=ShopStore(engine, clock),
                knowledge=knowledge, orders=orders or SqlOrderStore(engine, clock),
                drafts=DraftStore(engine, clock), keys=KeyStore(engine, clock), review=Review(engine, clock),
                feedback=FeedbackLog(engine))
        c.sources, c.events = build_sources(settings, engine, clock, c.orders)
        if with_index:
            c.service, c.retriever = build_index(settings, knowledge)
        return c

    llm: Any = None

    def llm_client(self) -> Any:
        """The LLM client, built on first use (None when no model is configured)."""
        if self.llm is None and self.settings.llm_base_url and self.settings.llm_model:
            from drafter.llm import LLMClient

            self.llm = LLMClient(self.settings, self.clock)
        return self.llm

    def draft_services(self) -> DraftServices:
        s = self.settings
        return DraftServices(shops=self.shops, knowledge=self.knowledge, orders=self.sources, clock=self.clock,
                             retriever=self.retriever, order_timeout_s=s.order_timeout_s,
                             retrieve_k=s.retrieve_k, executor=self.executor, llm=self.llm_client(),
                             prompt=s.llm_prompt, prompt_ab=s.llm_prompt_ab, redact_for_llm=s.redact_for_llm,
                             max_facts_age_s=s.order_max_age_s)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.sources is not None:
            self.sources.close()
        self.engine.dispose()


def build_sources(settings: Settings, engine: Any, clock: Clock, store: Any) -> tuple[Any, Any]:
    """Per-shop order sources behind the shared facts cache, and the pushed-events handler."""
    from knowledge.sources.cache import FactsCache, build_backend
    from knowledge.sources.config import SourceConfigStore
    from knowledge.sources.events import OrderEvents
    from knowledge.sources.router import OrderSources
    from knowledge.sources.secretbox import SecretBox
    from knowledge.sources.telemetry import SourceTelemetry

    box = SecretBox(settings.secret_key.get_secret_value() if settings.secret_key else None)
    configs = SourceConfigStore(engine, clock, box)
    telemetry = SourceTelemetry()
    backend = build_backend(settings.order_cache_backend, redis_url=settings.redis_url, engine=engine, clock=clock,
                            max_per_shop=settings.order_cache_max_per_shop, keep_s=settings.order_max_age_s * 2)
    cache = FactsCache(backend, clock, ttl_s=settings.order_cache_ttl_s, max_age_s=settings.order_max_age_s,
                       telemetry=telemetry, lock_s=settings.order_source_timeout_s * (settings.order_source_retries + 1)
                       + 5)
    sources = OrderSources(store=store, configs=configs, cache=cache, clock=clock, telemetry=telemetry,
                           timeout_s=settings.order_source_timeout_s, retries=settings.order_source_retries,
                           backoff_s=settings.order_source_backoff_s)
    events = OrderEvents(engine, clock, configs, cache, store, max_skew_s=settings.order_events_max_skew_s)
    return sources, events


def build_index(settings: Settings, knowledge: KnowledgeStore) -> tuple[Any, Any]:
    """The Chroma index (embedded, or a server when ``CHROMA_URL`` is set) and the hybrid retriever."""
    from knowledge.embeddings import E5Embedder
    from knowledge.index import VectorIndex
    from knowledge.retrieve import Retriever
    from knowledge.service import KnowledgeService

    embedder = E5Embedder()
    if settings.chroma_url:
        index = VectorIndex(url=settings.chroma_url, embedder=embedder)
    else:
        index = VectorIndex(path=settings.chroma_path, embedder=embedder)
    retriever = Retriever(knowledge, index, embedder)
    service = KnowledgeService(knowledge, index)
    return service, retriever
