"""SQLAlchemy Core tables, mirroring the migrations in ``core/migrations`` (the source of truth).

They live in ``core`` because more than one component reads them (the drafter stores drafts,
the knowledge layer owns shops and policies, the API owns keys) and arrows only point down.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from core.db import UTCDateTime, metadata

shops = sa.Table(
    "shops", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("settings_json", sa.Text, nullable=False),
    sa.Column("settings_revision", sa.Integer, nullable=False, server_default="1"),
    sa.Column("knowledge_counter", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

shop_settings_revisions = sa.Table(
    "shop_settings_revisions", metadata,
    sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("settings_json", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("author", sa.String(100)),
)

knowledge_items = sa.Table(
    "knowledge_items", metadata,
    sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), primary_key=True),
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("current_revision", sa.Integer, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

knowledge_revisions = sa.Table(
    "knowledge_revisions", metadata,
    sa.Column("shop_id", sa.String(64), primary_key=True),
    sa.Column("item_id", sa.String(100), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("tags_json", sa.Text, nullable=False, server_default="[]"),
    sa.Column("valid_from", UTCDateTime()),
    sa.Column("valid_to", UTCDateTime()),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("author", sa.String(100)),
    # 0005: a notice's effects on dispatch (JSON list, see knowledge/notice_effects.py); NULL = none
    sa.Column("effects_json", sa.Text),
    sa.ForeignKeyConstraint(["shop_id", "item_id"], ["knowledge_items.shop_id", "knowledge_items.id"]),
)

# 0010: the current revision's chunks of every live knowledge item, pre-segmented (jieba, with the
# shop vocabulary) so the database's own full-text engine does the lexical half of retrieval: a
# GIN-indexed tsvector ('simple' configuration) on PostgreSQL, the FTS5 table below on SQLite.
# Written in the same transaction as the revision, so every worker sees a write at its next query.
knowledge_chunks = sa.Table(
    "knowledge_chunks", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # the FTS5 rowid on SQLite
    sa.Column("shop_id", sa.String(64), nullable=False),
    sa.Column("item_id", sa.String(100), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("chunk_id", sa.String(300), nullable=False),  # the vector index's id of the same chunk
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("tokens", sa.Text, nullable=False),  # space-separated search tokens
    sa.Column("n_tokens", sa.Integer, nullable=False),
    # {"token": count} of the tokens that occur more than once (BM25's term frequency; absent = 1)
    sa.Column("tf_json", sa.Text),
    sa.Column("valid_from", UTCDateTime()),
    sa.Column("valid_to", UTCDateTime()),
    # PostgreSQL only (NULL on SQLite): to_tsvector('simple', tokens), written with the row.
    sa.Column("tsv", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql")),
    sa.ForeignKeyConstraint(["shop_id", "item_id"], ["knowledge_items.shop_id", "knowledge_items.id"]),
    sa.UniqueConstraint("chunk_id", name="uq_knowledge_chunks_chunk_id"),
    sa.Index("ix_knowledge_chunks_shop_item", "shop_id", "item_id"),
)
sa.Index("ix_knowledge_chunks_tsv", knowledge_chunks.c.tsv, postgresql_using="gin").ddl_if(dialect="postgresql")

# SQLite's full-text index over knowledge_chunks.tokens (rowid = knowledge_chunks.id). A virtual
# table is not SQLAlchemy metadata: the migration creates it, tests/core/test_schema.py checks it
# against this definition, and leaves its shadow tables (NAME_data, _idx, ...) out of the drift diff.
SQLITE_FTS_TABLE = "knowledge_fts"
SQLITE_FTS_DDL = "CREATE VIRTUAL TABLE knowledge_fts USING fts5(shop, tokens, tokenize='unicode61')"
SQLITE_FTS_SHADOWS = tuple(f"knowledge_fts_{s}" for s in ("data", "idx", "content", "docsize", "config"))

# 0010: knowledge base jobs (reindex, import) run by `replydesk worker`; their state and progress,
# read by GET /v1/jobs/{id} from any API worker. The queue itself is the job library's (rq on Redis).
kb_jobs = sa.Table(
    "kb_jobs", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("shop_id", sa.String(64)),  # NULL: every shop (CLI only)
    sa.Column("kind", sa.String(20), nullable=False),  # reindex | import
    sa.Column("status", sa.String(20), nullable=False),  # queued | running | done | failed
    sa.Column("done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("total", sa.Integer),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("payload_json", sa.Text),  # an import's parsed documents
    sa.Column("result_json", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("author", sa.String(100)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("started_at", UTCDateTime()),
    sa.Column("finished_at", UTCDateTime()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_kb_jobs_shop_created", "shop_id", "created_at"),
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), primary_key=True),
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("facts_json", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("key_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("label", sa.String(200)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime()),
    sa.Column("revoked_at", UTCDateTime()),
)

drafts = sa.Table(
    "drafts", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("intent_kind", sa.String(20), nullable=False),
    sa.Column("composer", sa.String(20), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("context_json", sa.Text, nullable=False),
    sa.Column("result_json", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(32)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # 0002: review lifecycle
    sa.Column("situation_json", sa.Text),
    sa.Column("final_text", sa.Text),
    sa.Column("decided_at", UTCDateTime()),
    sa.Column("decided_by", sa.String(32)),
    sa.Column("reject_reason", sa.String(40)),
    sa.Column("note", sa.Text),
    # 0008: the claim check of the text as approved, the agent's reason for approving over it, and when
    # the buyer's message arrived (the queue is oldest-waiting first)
    sa.Column("final_guard_json", sa.Text),
    sa.Column("override_reason", sa.Text),
    sa.Column("received_at", UTCDateTime()),
)
# 0001: the review queue (a shop's pending drafts, newest first) and a draft's order.
sa.Index("ix_drafts_shop_status_created", drafts.c.shop_id, drafts.c.status, drafts.c.created_at)
sa.Index("ix_drafts_shop_order", drafts.c.shop_id, drafts.c.order_id)

# 0002: append-only; rows are never updated or deleted, and hold only redacted text.
feedback_events = sa.Table(
    "feedback_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("shop_id", sa.String(64), nullable=False),
    sa.Column("event", sa.String(20), nullable=False),
    sa.Column("draft_id", sa.String(40), nullable=False),
    sa.Column("key_id", sa.String(32)),
    sa.Column("prompt_name", sa.String(100)),
    sa.Column("prompt_version", sa.String(40)),
    sa.Column("prompt_hash", sa.String(80)),
    sa.Column("composer", sa.String(20)),
    sa.Column("model", sa.String(200)),
    sa.Column("intent_kind", sa.String(20)),
    sa.Column("payload_json", sa.Text, nullable=False),
)
sa.Index("ix_feedback_shop_at", feedback_events.c.shop_id, feedback_events.c.at)
sa.Index("ix_feedback_draft", feedback_events.c.draft_id)
# One decision event per draft and kind: a retried request can never log twice. 0008: an approval can be
# undone while unsent, so approvals may repeat; each is still one conditional UPDATE with its one event.
_NOT_INSERTED = sa.text("event <> 'inserted' AND event <> 'approved' AND event <> 'edited' AND "
                        "event <> 'unapproved'")
sa.Index("ux_feedback_decision", feedback_events.c.draft_id, feedback_events.c.event, unique=True,
         postgresql_where=_NOT_INSERTED, sqlite_where=_NOT_INSERTED)

# 0003: a retried POST with the same Idempotency-Key gets the first response back.
# 0004: the key is claimed (state "in_progress", owner, heartbeat) before acting, answered when "done".
idempotency_keys = sa.Table(
    "idempotency_keys", metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("idem_key", sa.String(200), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("response_json", sa.Text),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, server_default="done"),
    sa.Column("owner", sa.String(32)),
    sa.Column("heartbeat_at", UTCDateTime()),
)

# 0006: which source each shop's orders come from. Credentials live only in ``secrets_enc`` and
# ``events_secret_enc`` (Fernet tokens under REPLYDESK_SECRET_KEY); ``config_json`` holds no secret.
order_sources = sa.Table(
    "order_sources", metadata,
    sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("config_json", sa.Text, nullable=False),
    sa.Column("secrets_enc", sa.Text),
    sa.Column("events_secret_enc", sa.Text),
    sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("updated_by", sa.String(100)),
    sa.Column("last_success_at", UTCDateTime()),
    sa.Column("last_error_at", UTCDateTime()),
    sa.Column("last_error_code", sa.String(80)),
    sa.Column("last_error", sa.String(500)),
)

# 0006: facts fetched from (or pushed by) a shop's source, shared by every worker when Redis is not used.
order_cache = sa.Table(
    "order_cache", metadata,
    sa.Column("shop_id", sa.String(64), primary_key=True),
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("facts_json", sa.Text, nullable=False),
    sa.Column("origin", sa.String(10), nullable=False),
    sa.Column("fetched_at", UTCDateTime(), nullable=False),
    sa.Column("stored_at", UTCDateTime(), nullable=False),
    sa.Index("ix_order_cache_shop_stored", "shop_id", "stored_at"),
)

# 0006: one worker fetches an order while the others wait for its answer (single flight).
order_fetch_locks = sa.Table(
    "order_fetch_locks", metadata,
    sa.Column("shop_id", sa.String(64), primary_key=True),
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

# 0006: pushed order events, kept by id so a redelivery is applied once.
order_events = sa.Table(
    "order_events", metadata,
    sa.Column("shop_id", sa.String(64), primary_key=True),
    sa.Column("event_id", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("order_id", sa.String(64)),
    sa.Column("result", sa.String(40), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
)

# 0007: every model call of the LLM composer (issue 14): what was sent (already redacted), what came
# back, and what became of it. Retention: ``LLM_LOG_RETENTION_DAYS`` (``replydesk llm purge``).
llm_calls = sa.Table(
    "llm_calls", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("shop_id", sa.String(64), nullable=False),
    sa.Column("draft_id", sa.String(40)),
    sa.Column("attempt", sa.String(10), nullable=False),
    sa.Column("prompt_name", sa.String(100), nullable=False),
    sa.Column("prompt_version", sa.String(40), nullable=False),
    sa.Column("prompt_hash", sa.String(80), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("params_json", sa.Text, nullable=False),
    sa.Column("messages_json", sa.Text, nullable=False),
    sa.Column("output", sa.Text),
    sa.Column("input_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("output_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("verdict", sa.String(30), nullable=False),
    sa.Column("problems_json", sa.Text, nullable=False),
    sa.Column("error", sa.String(500)),
    sa.Index("ix_llm_calls_shop_at", "shop_id", "at"),
    sa.Index("ix_llm_calls_draft", "draft_id"),
)
# 0009: one row per stored draft: what the buyer urged about, from the situation (never the buyer's text),
# and the response times filled in once each as the draft is decided, inserted and sent.
urge_events = sa.Table(
    "urge_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("shop_id", sa.String(64), nullable=False),
    sa.Column("draft_id", sa.String(40)),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("drafted_at", UTCDateTime(), nullable=False),
    sa.Column("intent_kind", sa.String(20), nullable=False),
    sa.Column("repeat", sa.Integer, nullable=False, server_default="0"),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("cause", sa.String(30), nullable=False),
    sa.Column("overdue", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("overdue_days", sa.Integer, nullable=False, server_default="0"),
    sa.Column("restock_passed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("needs_human", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("sku", sa.String(100)),
    sa.Column("skus_json", sa.Text, nullable=False, server_default="[]"),
    sa.Column("warehouse", sa.String(64)),
    sa.Column("carrier", sa.String(64)),
    sa.Column("created_by", sa.String(32)),
    sa.Column("decision", sa.String(20)),
    sa.Column("decided_by", sa.String(32)),
    sa.Column("decided_at", UTCDateTime()),
    sa.Column("inserted_at", UTCDateTime()),
    sa.Column("sent_at", UTCDateTime()),
)
# A time range of one shop, grouped by a column: on PostgreSQL an index-only scan (every column an insight query
# reads rides along), so a query reads the range's index entries and never the table.
sa.Index("ix_urge_events_shop_received", urge_events.c.shop_id, urge_events.c.received_at,
         postgresql_include=["sku", "warehouse", "carrier", "state", "cause", "intent_kind", "order_id", "decision",
                             "decided_by", "drafted_at", "decided_at", "inserted_at", "sent_at"])
sa.Index("ix_urge_events_shop_order", urge_events.c.shop_id, urge_events.c.order_id)
sa.Index("ix_urge_events_draft", urge_events.c.draft_id)

# 0012: hourly rollups of urge events, kept with them (drafter/insights/rollup.py): counts per dimension value
# ('' = not given) of urges and of every event, and response-time bucket counts per hour (span 1) and UTC day
# (span 24). Both keyed for the one range scan an insight query makes: shop, then time.
urge_hourly = sa.Table(
    "urge_hourly", metadata,
    sa.Column("shop_id", sa.String(64)),
    sa.Column("hour", sa.Integer),
    sa.Column("dim", sa.String(10)),
    sa.Column("value", sa.String(100)),
    sa.Column("urges", sa.Integer, nullable=False, server_default="0"),
    sa.Column("events", sa.Integer, nullable=False, server_default="0"),
    # The counts ride in the key's index: a range is read from the index alone (PostgreSQL).
    sa.PrimaryKeyConstraint("shop_id", "hour", "dim", "value", postgresql_include=["urges", "events"]),
)
urge_latency = sa.Table(
    "urge_latency", metadata,
    sa.Column("shop_id", sa.String(64)),
    sa.Column("span", sa.SmallInteger),
    sa.Column("start", sa.Integer),
    sa.Column("stage", sa.String(10)),
    sa.Column("grp", sa.String(40)),
    sa.Column("bucket", sa.SmallInteger),
    sa.Column("n", sa.Integer, nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint("shop_id", "span", "start", "stage", "grp", "bucket", postgresql_include=["n"]),
)

# 0009: a surge found by drafter/insights/surges.py; one per shop, dimension, value and window.
urge_alerts = sa.Table(
    "urge_alerts", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("shop_id", sa.String(64), nullable=False),
    sa.Column("dimension", sa.String(20), nullable=False),
    sa.Column("value", sa.String(100), nullable=False),
    sa.Column("window_start", UTCDateTime(), nullable=False),
    sa.Column("window_end", UTCDateTime(), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("expected", sa.Float, nullable=False),
    sa.Column("p_value", sa.Float, nullable=False),
    sa.Column("cause_text", sa.Text, nullable=False),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("action_text", sa.Text, nullable=False),
    sa.Column("detail_json", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("webhook_status", sa.String(20)),
    sa.Column("webhook_attempts", sa.Integer),
    sa.Column("webhook_error", sa.String(300)),
    sa.UniqueConstraint("shop_id", "dimension", "value", "window_end", name="ux_urge_alerts_key"),
)
sa.Index("ix_urge_alerts_shop_created", urge_alerts.c.shop_id, urge_alerts.c.created_at)

# 0011: an approved draft's accepted actions. ``status``: open (waiting for the system or a person),
# sent (handed to the executor), done, failed. One task per draft action (a retried approval cannot
# make two); ``facts_json`` is a small snapshot of the order for the warehouse's list.
tasks = sa.Table(
    "tasks", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), nullable=False),
    sa.Column("draft_id", sa.String(40), nullable=False),
    sa.Column("action_index", sa.Integer, nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("executor", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("facts_json", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500)),
    sa.Column("created_by", sa.String(32)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
sa.Index("ux_tasks_draft_action", tasks.c.draft_id, tasks.c.action_index, unique=True)
sa.Index("ix_tasks_shop_status_created", tasks.c.shop_id, tasks.c.status, tasks.c.created_at)
sa.Index("ix_tasks_shop_order", tasks.c.shop_id, tasks.c.order_id)

# 0011: append-only history of every task (created, sent, done, failed, retried; who and when).
task_events = sa.Table(
    "task_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(40), nullable=False),
    sa.Column("shop_id", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("event", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(64)),
    sa.Column("detail", sa.String(1000)),
)
sa.Index("ix_task_events_task", task_events.c.task_id, task_events.c.id)

# 0011: coupons and gifts wait here for a manager (pending → approved | declined).
compensation_approvals = sa.Table(
    "compensation_approvals", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), nullable=False),
    sa.Column("draft_id", sa.String(40), nullable=False),
    sa.Column("action_index", sa.Integer, nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("amount_yuan", sa.Float),
    sa.Column("gift", sa.String(200)),
    sa.Column("cause", sa.String(40), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("requested_by", sa.String(32)),
    sa.Column("requested_at", UTCDateTime(), nullable=False),
    sa.Column("decided_by", sa.String(32)),
    sa.Column("decided_at", UTCDateTime()),
    sa.Column("decline_reason", sa.String(500)),
)
sa.Index("ux_approvals_draft_action", compensation_approvals.c.draft_id, compensation_approvals.c.action_index,
         unique=True)
sa.Index("ix_approvals_shop_status", compensation_approvals.c.shop_id, compensation_approvals.c.status,
         compensation_approvals.c.requested_at)
