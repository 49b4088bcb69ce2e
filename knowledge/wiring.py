"""The one place the knowledge layer's services are put together: index, retriever and write
service, and the order sources with their facts cache and pushed events.

The API container, the CLI and ``replydesk eval`` all build them here, from the settings: the
Chroma server when ``chroma_url`` is set, else embedded Chroma in the data directory. The
retriever and the service share one index (and so one Chroma client), so a write through the
service is seen by the next retrieval in this process.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy.engine import Engine

from core.clock import Clock
from core.settings import Settings
from knowledge.embeddings import E5Embedder, Embedder
from knowledge.index import VectorIndex
from knowledge.order_store import SqlOrderStore
from knowledge.query_cache import build_shared_vectors
from knowledge.retrieve import Retriever
from knowledge.service import KnowledgeService
from knowledge.sources.cache import FactsCache, build_backend
from knowledge.sources.config import SourceConfigStore
from knowledge.sources.events import OrderEvents
from knowledge.sources.router import OrderSources
from knowledge.sources.secretbox import SecretBox
from knowledge.sources.telemetry import SourceTelemetry
from knowledge.store import KnowledgeStore

__all__ = ["Knowledge", "Orders", "build_knowledge", "build_orders"]


class Knowledge(NamedTuple):
    service: KnowledgeService
    retriever: Retriever


def build_knowledge(settings: Settings, store: KnowledgeStore, embedder: Embedder | None = None) -> Knowledge:
    """The write service and the hybrid retriever over one vector index. Connects lazily (first use)."""
    if embedder is None:
        shared = (build_shared_vectors(settings.redis_url, max_entries=settings.query_cache_max)
                  if settings.query_cache_max else None)
        embedder = E5Embedder()
        if shared is not None:
            embedder.shared = shared
    if settings.chroma_url:
        index = VectorIndex(embedder, url=settings.chroma_url, collection=settings.chroma_collection)
    else:
        index = VectorIndex(embedder, path=settings.chroma_path, collection=settings.chroma_collection)
    return Knowledge(KnowledgeService(store, index), Retriever(store, index, embedder))


class Orders(NamedTuple):
    sources: OrderSources    # what drafts read orders from, per shop, behind the shared facts cache
    events: OrderEvents      # pushed order updates


def build_orders(settings: Settings, engine: Engine, clock: Clock, store: SqlOrderStore) -> Orders:
    """Per-shop order sources behind the shared facts cache, and the pushed-events handler."""
    box = SecretBox(settings.secret_key.get_secret_value() if settings.secret_key else None)
    configs = SourceConfigStore(engine, clock, box)
    telemetry = SourceTelemetry()
    backend = build_backend(settings.order_cache_backend, redis_url=settings.redis_url, engine=engine, clock=clock,
                            max_per_shop=settings.order_cache_max_per_shop, keep_s=settings.order_max_age_s * 2)
    # A fetch holds the single-flight lock for at most its whole retry budget.
    lock_s = settings.order_source_timeout_s * (settings.order_source_retries + 1) + 5
    cache = FactsCache(backend, clock, ttl_s=settings.order_cache_ttl_s, max_age_s=settings.order_max_age_s,
                       telemetry=telemetry, lock_s=lock_s)
    sources = OrderSources(store=store, configs=configs, cache=cache, clock=clock, telemetry=telemetry,
                           timeout_s=settings.order_source_timeout_s, retries=settings.order_source_retries,
                           backoff_s=settings.order_source_backoff_s)
    events = OrderEvents(engine, clock, configs, cache, store, max_skew_s=settings.order_events_max_skew_s)
    return Orders(sources, events)
