"""urge events (one redacted, shop-scoped row per stored draft, with its response times) and urge alerts

Revision ID: 0009
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Columns every insight query reads: PostgreSQL answers range + group-by from the index alone.
_COVER = ["sku", "warehouse", "carrier", "state", "cause", "intent_kind", "order_id", "decision", "decided_by",
          "drafted_at", "decided_at", "inserted_at", "sent_at"]


def upgrade() -> None:
    op.create_table(
        "urge_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("shop_id", sa.String(64), nullable=False),
        sa.Column("draft_id", sa.String(40)),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drafted_at", sa.DateTime(timezone=True), nullable=False),
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
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("inserted_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_urge_events_shop_received", "urge_events", ["shop_id", "received_at"],
                    postgresql_include=_COVER)
    op.create_index("ix_urge_events_shop_order", "urge_events", ["shop_id", "order_id"])
    op.create_index("ix_urge_events_draft", "urge_events", ["draft_id"])
    op.create_table(
        "urge_alerts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("shop_id", sa.String(64), nullable=False),
        sa.Column("dimension", sa.String(20), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("expected", sa.Float, nullable=False),
        sa.Column("p_value", sa.Float, nullable=False),
        sa.Column("cause_text", sa.Text, nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("action_text", sa.Text, nullable=False),
        sa.Column("detail_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("webhook_status", sa.String(20)),
        sa.Column("webhook_attempts", sa.Integer),
        sa.Column("webhook_error", sa.String(300)),
        sa.UniqueConstraint("shop_id", "dimension", "value", "window_end", name="ux_urge_alerts_key"),
    )
    op.create_index("ix_urge_alerts_shop_created", "urge_alerts", ["shop_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_urge_alerts_shop_created", table_name="urge_alerts")
    op.drop_table("urge_alerts")
    for name in ("ix_urge_events_draft", "ix_urge_events_shop_order",
                 "ix_urge_events_shop_received"):
        op.drop_index(name, table_name="urge_events")
    op.drop_table("urge_events")
