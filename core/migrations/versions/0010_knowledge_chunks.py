"""knowledge chunks: the current revision's chunks with their search tokens, searched by the database
(PostgreSQL: GIN-indexed tsvector, 'simple' configuration; SQLite: an FTS5 table). Rows are written
by the application (segmentation is jieba's, in knowledge/); existing items are filled in at start-up.
Knowledge base jobs (reindex, import): state and progress, for GET /v1/jobs/{id}.

Revision ID: 0010
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_chunks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("shop_id", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(100), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("chunk_id", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("tokens", sa.Text, nullable=False),
            sa.Column("n_tokens", sa.Integer, nullable=False),
        sa.Column("tf_json", sa.Text),
        sa.Column("valid_from", sa.DateTime(timezone=True)),
        sa.Column("valid_to", sa.DateTime(timezone=True)),
        sa.Column("tsv", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql")),
        sa.ForeignKeyConstraint(["shop_id", "item_id"], ["knowledge_items.shop_id", "knowledge_items.id"]),
        sa.UniqueConstraint("chunk_id", name="uq_knowledge_chunks_chunk_id"),
    )
    op.create_table(
        "kb_jobs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("shop_id", sa.String(64)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total", sa.Integer),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("payload_json", sa.Text),
        sa.Column("result_json", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("author", sa.String(100)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_kb_jobs_shop_created", "kb_jobs", ["shop_id", "created_at"])
    op.create_index("ix_knowledge_chunks_shop_item", "knowledge_chunks", ["shop_id", "item_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_knowledge_chunks_tsv", "knowledge_chunks", ["tsv"], postgresql_using="gin")
    else:
        op.execute("CREATE VIRTUAL TABLE knowledge_fts USING fts5(shop, tokens, tokenize='unicode61')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE knowledge_fts")
    op.drop_table("knowledge_chunks")
    op.drop_table("kb_jobs")
