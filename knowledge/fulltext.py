"""Lexical search in the database: each current chunk's jieba tokens, searched by the database's own engine.

Every write of a knowledge item replaces its rows in ``knowledge_chunks`` in the same transaction
(``write_doc``), so a worker holds no per-shop lexical state and sees a write at its next query.
The search engine is the database's: a GIN-indexed ``tsvector`` ('simple' configuration: the
tokens are already segmented, stemmed and normalised here) on PostgreSQL, FTS5 on SQLite.

Scoring is BM25, as the in-process index computed it before (``lexical.LexicalIndex``), with the
document frequency counted within the shop, not over every shop in the table: one shop's
vocabulary must not change another's ranking (FTS5's own ``bm25()`` would count over the whole
table). Both engines run the same formula, in SQL; the term frequency is stored with the row
(``tf_json``, only for tokens that repeat) because neither engine hands it out cheaply::

    score(chunk) = sum over query tokens t in chunk of idf(t) * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len / avgdl))
    idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))      N, avgdl: the shop's chunks
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.db import UTCDateTime
from core.tables import SQLITE_FTS_TABLE, knowledge_chunks, knowledge_items, knowledge_revisions
from knowledge.chunking import Chunk, chunk_doc
from knowledge.lexical import K1, B, tokenize
from knowledge.store import KnowledgeDoc

# Query tokens beyond this add nothing but cost (a pasted paragraph as a "question").
MAX_QUERY_TOKENS = 32
# What a stored token may contain: both engines' tokenizers then see exactly one token in it.
_NOT_TOKEN = re.compile(r"[^0-9a-z\u00c0-\u024f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def search_tokens(text: str) -> list[str]:
    """``lexical.tokenize`` reduced to characters both full-text engines keep as one token."""
    out = []
    for t in tokenize(text):
        t = _NOT_TOKEN.sub("", t)
        if t:
            out.append(t)
    return out


def _shop_token(shop_id: str) -> str:
    # FTS5 matches the shop column as a token: a hash keeps ids with '.', '-' or '_' in one piece.
    return "s" + hashlib.sha1(shop_id.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class ChunkRow:
    """A current chunk as stored for search (what a passage is built from)."""

    chunk_id: str
    item_id: str
    revision: int
    n: int
    kind: str
    title: str
    text: str
    valid_from: datetime | None
    valid_to: datetime | None

    def active_at(self, at: datetime) -> bool:
        if self.valid_from and at < self.valid_from:
            return False
        return not (self.valid_to and at > self.valid_to)


# -- writes -------------------------------------------------------------------------------------
def _rows(chunks: Sequence[Chunk]) -> list[dict]:
    rows = []
    for c in chunks:
        toks = search_tokens(c.search_text)
        repeated = {t: k for t, k in Counter(toks).items() if k > 1}
        rows.append({"shop_id": c.shop_id, "item_id": c.doc_id, "revision": c.revision, "n": c.n,
                     "chunk_id": c.id, "kind": c.kind, "title": c.title, "text": c.text,
                     "tokens": " ".join(toks), "n_tokens": len(toks),
                     "tf_json": json.dumps(repeated, ensure_ascii=False) if repeated else None,
                     "valid_from": c.valid_from, "valid_to": c.valid_to})
    return rows


def write_doc(conn: Connection, doc: KnowledgeDoc) -> int:
    """Replace the search rows of ``doc``'s item with its current revision's chunks (none if deleted)."""
    delete_item(conn, doc.shop_id, doc.id)
    return insert_chunks(conn, chunk_doc(doc))


def delete_item(conn: Connection, shop_id: str, item_id: str) -> None:
    where = sa.and_(knowledge_chunks.c.shop_id == shop_id, knowledge_chunks.c.item_id == item_id)
    if conn.dialect.name == "sqlite":
        conn.execute(sa.text(f"DELETE FROM {SQLITE_FTS_TABLE} WHERE rowid IN "
                             "(SELECT id FROM knowledge_chunks WHERE shop_id = :s AND item_id = :i)"),
                     {"s": shop_id, "i": item_id})
    conn.execute(knowledge_chunks.delete().where(where))


def insert_chunks(conn: Connection, chunks: Sequence[Chunk]) -> int:
    if not chunks:
        return 0
    rows = _rows(chunks)
    if conn.dialect.name == "postgresql":
        # The tsvector is computed by PostgreSQL from the stored tokens, in the same statement.
        stmt = knowledge_chunks.insert().values(tsv=sa.func.to_tsvector(
            sa.literal_column("'simple'::regconfig"), sa.bindparam("tsv_source")))
        conn.execute(stmt, [{**r, "tsv_source": r["tokens"]} for r in rows])
        return len(rows)
    ids = conn.execute(knowledge_chunks.insert().returning(knowledge_chunks.c.id, sort_by_parameter_order=True),
                       rows).scalars().all()
    conn.execute(sa.text(f"INSERT INTO {SQLITE_FTS_TABLE}(rowid, shop, tokens) VALUES (:id, :shop, :tokens)"),
                 [{"id": i, "shop": _shop_token(r["shop_id"]), "tokens": r["tokens"]} for i, r in zip(ids, rows, strict=True)])
    return len(rows)


def backfill(engine: Engine, shop_id: str | None = None) -> int:
    """Write search rows for live items that have none at their current revision (after the
    migration, or a write made by an older version); returns the items written. Cheap when none."""
    i, r, c = knowledge_items, knowledge_revisions, knowledge_chunks
    missing = ~sa.exists().where(c.c.shop_id == i.c.shop_id, c.c.item_id == i.c.id,
                                 c.c.revision == i.c.current_revision)
    q = (sa.select(r).join(i, sa.and_(i.c.shop_id == r.c.shop_id, i.c.id == r.c.item_id,
                                      i.c.current_revision == r.c.revision))
         .where(i.c.deleted == sa.false(), missing))
    if shop_id is not None:
        q = q.where(i.c.shop_id == shop_id)
    from knowledge.store import _doc

    with engine.begin() as conn:
        docs = [_doc(row) for row in conn.execute(q)]
        for d in docs:
            write_doc(conn, d)
    return len(docs)


def rebuild_shop(engine: Engine, docs: Iterable[KnowledgeDoc], shop_id: str) -> int:
    """Rewrite every search row of one shop from ``docs`` (its current documents); returns chunks."""
    n = 0
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(sa.text(f"DELETE FROM {SQLITE_FTS_TABLE} WHERE rowid IN "
                                 "(SELECT id FROM knowledge_chunks WHERE shop_id = :s)"), {"s": shop_id})
        conn.execute(knowledge_chunks.delete().where(knowledge_chunks.c.shop_id == shop_id))
        for d in docs:
            if d.shop_id != shop_id:
                raise ValueError(f"rebuild of shop {shop_id!r} was given another shop's documents")
            n += insert_chunks(conn, chunk_doc(d))
    return n


# -- reads --------------------------------------------------------------------------------------
_COLUMNS = ("chunk_id", "item_id", "revision", "n", "kind", "title", "text", "valid_from", "valid_to")


def _row(r: sa.Row) -> ChunkRow:
    from core.db import utc

    return ChunkRow(r.chunk_id, r.item_id, r.revision, r.n, r.kind, r.title, r.text,
                    utc(r.valid_from), utc(r.valid_to))


def chunks_by_id(conn: Connection, shop_id: str, chunk_ids: Sequence[str]) -> dict[str, ChunkRow]:
    """The current chunks among ``chunk_ids`` (a vector hit of an old revision is simply absent)."""
    if not chunk_ids:
        return {}
    cols = [knowledge_chunks.c[n] for n in _COLUMNS]
    rows = conn.execute(sa.select(*cols).where(knowledge_chunks.c.shop_id == shop_id,
                                               knowledge_chunks.c.chunk_id.in_(list(chunk_ids))))
    return {r.chunk_id: _row(r) for r in rows}


def chunk_count(conn: Connection, shop_id: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(knowledge_chunks)
                            .where(knowledge_chunks.c.shop_id == shop_id)).scalar_one())


def search(conn: Connection, shop_id: str, query: str, n: int, *, now: datetime,
           kinds: Sequence[str] | None = None) -> list[tuple[ChunkRow, float]]:
    """The ``n`` best current chunks of one shop for ``query`` in force at ``now``, best first."""
    toks = list(dict.fromkeys(search_tokens(query)))[:MAX_QUERY_TOKENS]
    if not toks or n <= 0:
        return []
    if conn.dialect.name == "postgresql":
        return _search_pg(conn, shop_id, toks, n, now=now, kinds=kinds)
    params: dict[str, object] = {"shop": shop_id, "k": n, "now": now}
    parts = [f"SELECT rowid AS cid, {i} AS i, :k{i} AS tok FROM {SQLITE_FTS_TABLE} "
             f"WHERE {SQLITE_FTS_TABLE} MATCH :t{i}" for i in range(len(toks))]
    shop = _shop_token(shop_id)
    params.update({f"t{i}": f'shop:"{shop}" AND tokens:"{t}"' for i, t in enumerate(toks)})
    tf = "COALESCE(CAST(json_extract(c.tf_json, '$.\"' || hits.tok || '\"') AS REAL), 1.0)"
    params.update({f"k{i}": t for i, t in enumerate(toks)})
    filters = ["(c.valid_from IS NULL OR c.valid_from <= :now)", "(c.valid_to IS NULL OR c.valid_to >= :now)"]
    if kinds:
        filters.append("c.kind IN :kinds")
        params["kinds"] = list(kinds)
    cols = ", ".join(f"c.{name}" for name in _COLUMNS)
    sql = f"""
        WITH hits AS ({' UNION ALL '.join(parts)}),
        df AS (SELECT i, COUNT(*) AS df FROM hits GROUP BY i),
        st AS (SELECT COUNT(*) AS n, COALESCE(AVG(n_tokens), 1) AS avgdl FROM knowledge_chunks WHERE shop_id = :shop)
        SELECT {cols},
               SUM(LN(1.0 + (st.n - df.df + 0.5) / (df.df + 0.5)) * {tf} * {K1 + 1.0}
                   / ({tf} + {K1} * (1.0 - {B} + {B} * c.n_tokens / CASE WHEN st.avgdl > 0 THEN st.avgdl ELSE 1 END)))
                 AS score
        FROM hits JOIN df ON df.i = hits.i JOIN knowledge_chunks c ON c.id = hits.cid CROSS JOIN st
        WHERE {' AND '.join(filters)}
        GROUP BY {cols}, c.n_tokens, st.avgdl
        ORDER BY score DESC, c.chunk_id
        LIMIT :k"""
    stmt = sa.text(sql).bindparams(sa.bindparam("now", type_=UTCDateTime()))
    if kinds:
        stmt = stmt.bindparams(sa.bindparam("kinds", expanding=True))
    typed = stmt.columns(valid_from=UTCDateTime(), valid_to=UTCDateTime())  # SQLite returns text otherwise
    return [(_row(r), float(r.score)) for r in conn.execute(typed, params)]


# The PostgreSQL search is one statement whose text never changes (the tokens and kinds are arrays), so
# psycopg prepares it after a few uses on a connection and the server plans it from a cache, and the
# shop's chunk statistics (``st``) and the token hits are each computed once: as plain CTEs, the planner
# put ``st`` on the inner side of a nested loop and recounted the shop once per hit (109 times, 49 ms,
# for an 8-token urge in a 171-chunk shop; 0.4 ms now). One GIN lookup for all the tokens (``anyq``:
# 'a' | 'b' | ...) finds the chunks that hold any of them; the join with ``q`` splits them per token
# (each quoted, so one lexeme, or one phrase if PostgreSQL's parser splits it as it split the stored text).
_PG_TF = "COALESCE(CAST(CAST(c.tf_json AS jsonb) ->> hits.tok AS FLOAT), 1.0)"
_PG_SEARCH = sa.text(f"""
    WITH q AS MATERIALIZED (
        SELECT u.i, u.tok, to_tsquery('simple', quote_literal(u.tok)) AS tq
        FROM unnest(CAST(:toks AS TEXT[])) WITH ORDINALITY AS u(tok, i)),
    hits AS MATERIALIZED (
        SELECT k.id AS cid, q.i, q.tok FROM knowledge_chunks k JOIN q ON k.tsv @@ q.tq
        WHERE k.shop_id = :shop AND k.tsv @@ to_tsquery('simple', :anyq)),
    df AS MATERIALIZED (SELECT i, COUNT(*) AS df FROM hits GROUP BY i),
    st AS MATERIALIZED (
        SELECT COUNT(*) AS n, COALESCE(AVG(n_tokens), 1) AS avgdl FROM knowledge_chunks WHERE shop_id = :shop)
    SELECT {", ".join(f"c.{name}" for name in _COLUMNS)},
           SUM(LN(1.0 + (st.n - df.df + 0.5) / (df.df + 0.5)) * {_PG_TF} * {K1 + 1.0}
               / ({_PG_TF} + {K1} * (1.0 - {B} + {B} * c.n_tokens / CASE WHEN st.avgdl > 0 THEN st.avgdl ELSE 1 END)))
             AS score
    FROM hits JOIN df ON df.i = hits.i JOIN knowledge_chunks c ON c.id = hits.cid CROSS JOIN st
    WHERE (c.valid_from IS NULL OR c.valid_from <= :now) AND (c.valid_to IS NULL OR c.valid_to >= :now)
      AND (CAST(:kinds AS TEXT[]) IS NULL OR c.kind = ANY(CAST(:kinds AS TEXT[])))
    GROUP BY c.id
    ORDER BY score DESC, c.chunk_id
    LIMIT :k""").bindparams(sa.bindparam("now", type_=UTCDateTime())).columns(
    valid_from=UTCDateTime(), valid_to=UTCDateTime())


def _search_pg(conn: Connection, shop_id: str, toks: list[str], n: int, *, now: datetime,
               kinds: Sequence[str] | None) -> list[tuple[ChunkRow, float]]:
    params = {"shop": shop_id, "k": n, "now": now, "toks": toks, "anyq": " | ".join(f"'{t}'" for t in toks),
              "kinds": list(kinds) if kinds else None}
    return [(_row(r), float(r.score)) for r in conn.execute(_PG_SEARCH, params)]


def search_with(conn: Connection, shop_id: str, query: str, n: int, *, now: datetime,
                kinds: Sequence[str] | None, replace_item: str, extra: Sequence[Chunk]) -> list[tuple[ChunkRow, float]]:
    """``search`` as if ``extra`` (an unsaved revision's chunks) replaced the item ``replace_item``.

    For previews only: it reads the shop's stored tokens and scores them here, with the same formula
    as the database, so a preview ranks exactly as the saved item will.
    """
    import math

    toks = set(list(dict.fromkeys(search_tokens(query)))[:MAX_QUERY_TOKENS])
    if not toks or n <= 0:
        return []
    cols = [knowledge_chunks.c[name] for name in (*_COLUMNS, "tokens", "n_tokens")]
    entries: list[tuple[ChunkRow, Counter[str], int]] = []
    for r in conn.execute(sa.select(*cols).where(knowledge_chunks.c.shop_id == shop_id,
                                                 knowledge_chunks.c.item_id != replace_item)):
        entries.append((_row(r), Counter(r.tokens.split()), r.n_tokens))
    for d in _rows(extra):
        entries.append((ChunkRow(d["chunk_id"], d["item_id"], d["revision"], d["n"], d["kind"],
                                 d["title"], d["text"], d["valid_from"], d["valid_to"]),
                        Counter(d["tokens"].split()), d["n_tokens"]))
    if not entries:
        return []
    total = len(entries)
    avgdl = sum(e[2] for e in entries) / total or 1.0
    df = {t: sum(1 for e in entries if t in e[1]) for t in toks}
    idf = {t: math.log(1.0 + (total - d + 0.5) / (d + 0.5)) for t, d in df.items()}
    kind_set = set(kinds) if kinds else None
    scored = []
    for row, have, length in entries:
        hit = toks & have.keys()
        if not hit or not row.active_at(now) or (kind_set is not None and row.kind not in kind_set):
            continue
        norm = K1 * (1.0 - B + B * length / avgdl)
        score = sum(idf[t] * have[t] * (K1 + 1.0) / (have[t] + norm) for t in hit)
        scored.append((row, score))
    scored.sort(key=lambda rs: (-rs[1], rs[0].chunk_id))
    return scored[:n]
