"""order sources: per-shop source config (credentials encrypted), the shared order cache, fetch locks,
pushed events (idempotent by event id)

Revision ID: 0006
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_sources",
        sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("config_json", sa.Text, nullable=False),
        sa.Column("secrets_enc", sa.Text),
        sa.Column("events_secret_enc", sa.Text),
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(100)),
        sa.Column("last_success_at", sa.DateTime(timezone=True)),
        sa.Column("last_error_at", sa.DateTime(timezone=True)),
        sa.Column("last_error_code", sa.String(80)),
        sa.Column("last_error", sa.String(500)),
    )
    op.create_table(
        "order_cache",
        sa.Column("shop_id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("facts_json", sa.Text, nullable=False),
        sa.Column("origin", sa.String(10), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_order_cache_shop_stored", "order_cache", ["shop_id", "stored_at"])
    op.create_table(
        "order_fetch_locks",
        sa.Column("shop_id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "order_events",
        sa.Column("shop_id", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("order_id", sa.String(64)),
        sa.Column("result", sa.String(40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("order_events")
    op.drop_table("order_fetch_locks")
    op.drop_index("ix_order_cache_shop_stored", table_name="order_cache")
    op.drop_table("order_cache")
    op.drop_table("order_sources")
