"""tasks: what an approved draft's accepted actions became (handoffs with append-only events), and the
managers' compensation approvals

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tasks",
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_tasks_draft_action", "tasks", ["draft_id", "action_index"], unique=True)
    op.create_index("ix_tasks_shop_status_created", "tasks", ["shop_id", "status", "created_at"])
    op.create_index("ix_tasks_shop_order", "tasks", ["shop_id", "order_id"])
    op.create_table(
        "task_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(40), nullable=False),
        sa.Column("shop_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(64)),
        sa.Column("detail", sa.String(1000)),
    )
    op.create_index("ix_task_events_task", "task_events", ["task_id", "id"])
    op.create_table(
        "compensation_approvals",
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
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(32)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decline_reason", sa.String(500)),
    )
    op.create_index("ux_approvals_draft_action", "compensation_approvals", ["draft_id", "action_index"], unique=True)
    op.create_index("ix_approvals_shop_status", "compensation_approvals", ["shop_id", "status", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_approvals_shop_status", table_name="compensation_approvals")
    op.drop_index("ux_approvals_draft_action", table_name="compensation_approvals")
    op.drop_table("compensation_approvals")
    op.drop_index("ix_task_events_task", table_name="task_events")
    op.drop_table("task_events")
    op.drop_index("ix_tasks_shop_order", table_name="tasks")
    op.drop_index("ix_tasks_shop_status_created", table_name="tasks")
    op.drop_index("ux_tasks_draft_action", table_name="tasks")
    op.drop_table("tasks")
