"""initial schema: shops, knowledge with revisions, demo orders, api keys, drafts

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shops",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("settings_json", sa.Text, nullable=False),
        sa.Column("settings_revision", sa.Integer, nullable=False, server_default="1"),
        sa.Column("knowledge_counter", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "shop_settings_revisions",
        sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("settings_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(100), nullable=True),
    )
    op.create_table(
        "knowledge_items",
        sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("current_revision", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "knowledge_revisions",
        sa.Column("shop_id", sa.String(64), primary_key=True),
        sa.Column("item_id", sa.String(100), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("tags_json", sa.Text, nullable=False, server_default="[]"),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(100), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id", "item_id"], ["knowledge_items.shop_id", "knowledge_items.id"]
        ),
    )
    op.create_table(
        "orders",
        sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("facts_json", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("key_hash", sa.String(128), nullable=False, unique=True),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "drafts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("shop_id", sa.String(64), sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("intent_kind", sa.String(20), nullable=False),
        sa.Column("composer", sa.String(20), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("context_json", sa.Text, nullable=False),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_drafts_shop_status_created", "drafts", ["shop_id", "status", "created_at"])
    op.create_index("ix_drafts_shop_order", "drafts", ["shop_id", "order_id"])


def downgrade() -> None:
    for name in ("drafts", "api_keys", "orders", "knowledge_revisions", "knowledge_items",
                 "shop_settings_revisions", "shops"):
        op.drop_table(name)
