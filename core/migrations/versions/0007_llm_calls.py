"""llm_calls: every model call of the LLM composer (messages redacted, raw output, usage, verdict)

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
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
    )
    op.create_index("ix_llm_calls_shop_at", "llm_calls", ["shop_id", "at"])
    op.create_index("ix_llm_calls_draft", "llm_calls", ["draft_id"])


def downgrade() -> None:
    op.drop_index("ix_llm_calls_draft", table_name="llm_calls")
    op.drop_index("ix_llm_calls_shop_at", table_name="llm_calls")
    op.drop_table("llm_calls")
