"""Owner replies and the root-cause gate: explanation, writeup, and a closed-needs-root-cause check.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from pipeline.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(sa.Column("explained_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("explanation", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("writeup", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("root_cause_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("extended", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("reopened", sa.Integer(), nullable=False, server_default="0"))
    # Nothing could close before this revision; should a row say closed, keep it valid.
    op.execute("update escalations set root_cause_at = coalesce(closed_at, opened_at) where state = 'closed'")
    with op.batch_alter_table("escalations") as batch:
        batch.alter_column("explanation", server_default=None)
        batch.alter_column("writeup", server_default=None)
        batch.alter_column("extended", server_default=None)
        batch.alter_column("reopened", server_default=None)
        batch.create_check_constraint(
            "closed_has_root_cause", "state <> 'closed' OR root_cause_at IS NOT NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.drop_constraint("ck_escalations_closed_has_root_cause", type_="check")
        for column in ("reopened", "extended", "root_cause_at", "writeup", "explanation", "explained_at"):
            batch.drop_column(column)
