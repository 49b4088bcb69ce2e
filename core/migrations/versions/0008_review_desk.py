"""review desk: the claim check of the text as approved, the agent's override reason, when the buyer's
message arrived (the queue orders and times by it); approvals may repeat after an undo

Revision ID: 0008
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


_OLD = "event <> 'inserted'"
# An approval can be undone while the reply is unsent, so a draft may be approved again: approvals leave the
# one-event-per-kind index (each is still one conditional UPDATE of the draft with its one event).
_NEW = ("event <> 'inserted' AND event <> 'approved' AND event <> 'edited' AND "
                             "event <> 'unapproved'")


def _decision_index(where: str) -> None:
    op.drop_index("ux_feedback_decision", table_name="feedback_events")
    op.create_index("ux_feedback_decision", "feedback_events", ["draft_id", "event"], unique=True,
                    postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def upgrade() -> None:
    with op.batch_alter_table("drafts") as b:
        b.add_column(sa.Column("final_guard_json", sa.Text))
        b.add_column(sa.Column("override_reason", sa.Text))
        b.add_column(sa.Column("received_at", sa.DateTime(timezone=True)))
    _decision_index(_NEW)


def downgrade() -> None:
    _decision_index(_OLD)
    with op.batch_alter_table("drafts") as b:
        b.drop_column("received_at")
        b.drop_column("override_reason")
        b.drop_column("final_guard_json")
