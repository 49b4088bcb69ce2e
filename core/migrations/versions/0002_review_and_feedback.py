"""review lifecycle on drafts, and the append-only feedback log

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drafts") as b:
        b.add_column(sa.Column("situation_json", sa.Text, nullable=True))
        b.add_column(sa.Column("final_text", sa.Text, nullable=True))
        b.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("decided_by", sa.String(32), nullable=True))
        b.add_column(sa.Column("reject_reason", sa.String(40), nullable=True))
        b.add_column(sa.Column("note", sa.Text, nullable=True))
    op.create_table(
        "feedback_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shop_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("draft_id", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("prompt_name", sa.String(100), nullable=True),
        sa.Column("prompt_version", sa.String(40), nullable=True),
        sa.Column("prompt_hash", sa.String(80), nullable=True),
        sa.Column("composer", sa.String(20), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("intent_kind", sa.String(20), nullable=True),
        sa.Column("payload_json", sa.Text, nullable=False),
    )
    op.create_index("ix_feedback_shop_at", "feedback_events", ["shop_id", "at"])
    op.create_index("ix_feedback_draft", "feedback_events", ["draft_id"])
    # One decision event per draft and kind: a retried request can never log twice.
    op.create_index("ux_feedback_decision", "feedback_events", ["draft_id", "event"], unique=True,
                    postgresql_where=sa.text("event <> 'inserted'"), sqlite_where=sa.text("event <> 'inserted'"))


def downgrade() -> None:
    op.drop_table("feedback_events")
    with op.batch_alter_table("drafts") as b:
        for c in ("note", "reject_reason", "decided_by", "decided_at", "final_text", "situation_json"):
            b.drop_column(c)
