"""notice effects: what a notice does to dispatch, kept with each revision (JSON list; NULL = none)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("knowledge_revisions") as batch:
        batch.add_column(sa.Column("effects_json", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("knowledge_revisions") as batch:
        batch.drop_column("effects_json")
