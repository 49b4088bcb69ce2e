"""The one place the knowledge layer's index, retriever and write service are put together.

The API container, the CLI and ``replydesk eval`` all build them here, from the settings: the
Chroma server when ``chroma_url`` is set, else embedded Chroma in the data directory. The
retriever and the service share one index (and so one Chroma client), so a write through the
service is seen by the next retrieval in this process.
"""

from __future__ import annotations

from typing import NamedTuple

from core.settings import Settings
from knowledge.embeddings import E5Embedder, Embedder
from knowledge.index import VectorIndex
from knowledge.retrieve import Retriever
from knowledge.service import KnowledgeService
from knowledge.store import KnowledgeStore

__all__ = ["Knowledge", "build_knowledge"]


class Knowledge(NamedTuple):
    service: KnowledgeService
    retriever: Retriever


def build_knowledge(settings: Settings, store: KnowledgeStore, embedder: Embedder | None = None) -> Knowledge:
    """The write service and the hybrid retriever over one vector index. Connects lazily (first use)."""
    embedder = embedder or E5Embedder()
    if settings.chroma_url:
        index = VectorIndex(embedder, url=settings.chroma_url)
    else:
        index = VectorIndex(embedder, path=settings.chroma_path)
    return Knowledge(KnowledgeService(store, index), Retriever(store, index, embedder))
