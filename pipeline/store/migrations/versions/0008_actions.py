"""The action ledger: each corrective or preventive action ``A-<n>`` with its owner, due date and chase.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from pipeline.store.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(320), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("dropped_reason", sa.Text(), nullable=False),
        sa.Column("due_moves", sa.Integer(), nullable=False),
        sa.Column("clock_started_at", UTCDateTime(), nullable=False),
        sa.Column("chase_phase", sa.Integer(), nullable=False),
        sa.Column("chase_slot", sa.Integer(), nullable=False),
        sa.Column("chase_at", UTCDateTime(), nullable=True),
        sa.Column("chase_lease_until", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"], ["escalations.id"], name=op.f("fk_actions_escalation_id_escalations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions")),
    )
    op.create_index("ix_actions_escalation_id", "actions", ["escalation_id"])
    op.create_index("ix_actions_owner", "actions", ["owner"])
    op.create_index("ix_actions_state_due_at", "actions", ["state", "due_at"])
    op.create_index("ix_actions_chase_at", "actions", ["chase_at"])
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(sa.Column("planned_actions", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.drop_column("planned_actions")
    op.drop_index("ix_actions_chase_at", table_name="actions")
    op.drop_index("ix_actions_state_due_at", table_name="actions")
    op.drop_index("ix_actions_owner", table_name="actions")
    op.drop_index("ix_actions_escalation_id", table_name="actions")
    op.drop_table("actions")
