"""idempotency keys are claimed before acting: a state, the claim's owner and its heartbeat

Two simultaneous first requests with one Idempotency-Key used to both act (the key was stored
after acting). Now the first inserts its claim ("in_progress"), acts, then stores the answer
("done"); a twin waits for that answer. A claim whose owner stopped heartbeating (its process
died) can be taken over. Rows stored before this revision are answers: state "done".

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as b:
        b.add_column(sa.Column("state", sa.String(20), nullable=False, server_default="done"))
        b.add_column(sa.Column("owner", sa.String(32), nullable=True))
        b.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        # A claim in progress has no answer yet.
        b.alter_column("status_code", existing_type=sa.Integer, nullable=True)
        b.alter_column("response_json", existing_type=sa.Text, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE state <> 'done'")
    with op.batch_alter_table("idempotency_keys") as b:
        b.alter_column("response_json", existing_type=sa.Text, nullable=False)
        b.alter_column("status_code", existing_type=sa.Integer, nullable=False)
        b.drop_column("heartbeat_at")
        b.drop_column("owner")
        b.drop_column("state")
