"""Wiring: build every service once from the settings. Nothing here runs at import time."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from api.keys import KeyStore
from core.clock import Clock, SystemClock
from core.db import make_engine, migrate
from core.settings import Settings
from drafter.compensation import Compensation
from drafter.drafts import DraftStore
from drafter.exemplars import ExemplarSource
from drafter.feedback import FeedbackLog
from drafter.insights.service import UrgeInsights
from drafter.llm_log import LLMCallLog
from drafter.pipeline import DraftServices
from drafter.review import Review
from drafter.tasks import ActionDesk
from knowledge.order_store import SqlOrderStore
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore

if TYPE_CHECKING:  # the index stack (Chroma, the model) and the LLM client load only when built
    from drafter.llm import LLMClient
    from knowledge.job_queue import JobQueue
    from knowledge.jobs import JobStore
    from knowledge.retrieve import Retriever
    from knowledge.service import KnowledgeService
    from knowledge.sources.events import OrderEvents
    from knowledge.sources.router import OrderSources

log = logging.getLogger("replydesk")


def build_jobs(settings: Settings, engine: Engine, clock: Clock, service: KnowledgeService,
               *, background: bool) -> tuple[JobStore, JobQueue]:
    from knowledge.job_queue import build_queue
    from knowledge.jobs import JobStore, run

    jobs = JobStore(engine, clock)
    return jobs, build_queue(settings, lambda job_id: run(job_id, jobs, service), background=background)


@dataclass
class Container:
    settings: Settings
    clock: Clock
    engine: Engine
    shops: ShopStore
    knowledge: KnowledgeStore
    orders: SqlOrderStore
    drafts: DraftStore
    keys: KeyStore
    review: Review
    feedback: FeedbackLog
    sources: OrderSources    # what drafts read orders from (each shop's source behind the facts cache)
    events: OrderEvents      # pushed order updates
    insights: UrgeInsights   # urge events, surge alerts and their webhook
    desk: ActionDesk | None = None           # tasks: accepted actions carried out (issue 18)
    compensation: Compensation | None = None  # coupons and gifts waiting for a manager
    service: KnowledgeService | None = None  # knowledge writes that keep the index in step (None: no index)
    retriever: Retriever | None = None
    llm: LLMClient | None = None  # built on first use: see llm_client()
    jobs: JobStore | None = None          # knowledge base jobs (reindex, import): state and progress
    job_queue: JobQueue | None = None     # where a new job goes (rq, or this process without Redis)
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        max_workers=8, thread_name_prefix="order-source"))

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None, orders: SqlOrderStore | None = None,
              with_index: bool = True, run_migrations: bool = True) -> Container:
        clock = clock or SystemClock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        if run_migrations:
            migrate(engine)
            from knowledge.fulltext import backfill

            # Items written before migration 0010 (or by an older version) get their search rows.
            if n := backfill(engine):
                log.info("knowledge search rows written for %d items", n)
        from knowledge.wiring import build_knowledge, build_orders

        knowledge = KnowledgeStore(engine, clock)
        orders = orders or SqlOrderStore(engine, clock)
        sources, events = build_orders(settings, engine, clock, orders)
        c = cls(settings=settings, clock=clock, engine=engine, shops=ShopStore(engine, clock),
                knowledge=knowledge, orders=orders, sources=sources, events=events,
                drafts=DraftStore(engine, clock), keys=KeyStore(engine, clock), review=Review(engine, clock),
                feedback=FeedbackLog(engine), insights=UrgeInsights(
                    engine, clock, ShopStore(engine, clock), webhook_url=settings.alert_webhook_url,
                    webhook_secret=settings.alert_webhook_secret.get_secret_value()
                    if settings.alert_webhook_secret else None))
        c.desk = ActionDesk(engine, clock, c.shops, sources)
        c.compensation = Compensation(engine, clock, c.shops, c.desk)
        c.review.desk, c.review.compensation = c.desk, c.compensation
        if with_index:
            c.service, c.retriever = build_knowledge(settings, knowledge)
            c.jobs, c.job_queue = build_jobs(settings, engine, clock, c.service, background=True)
        return c

    def queue(self, *, background: bool) -> JobQueue:
        """The job queue; without Redis, ``background`` says whether a job runs in a thread (API) or
        is left to the caller to run in the foreground (CLI)."""
        assert self.service is not None and self.jobs is not None
        return build_jobs(self.settings, self.engine, self.clock, self.service, background=background)[1]

    def llm_client(self) -> LLMClient | None:
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
                             max_facts_age_s=s.order_max_age_s, llm_log=LLMCallLog(self.engine, self.clock),
                             exemplars=ExemplarSource(self.engine), exemplar_limit=s.llm_exemplars,
                             insights=self.insights,
                             done_actions=self.desk.done_actions if self.desk is not None else None)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.insights.close()
        if self.desk is not None:
            self.desk.close()
        if self.sources is not None:
            self.sources.close()
        self.engine.dispose()
