"""The chase clock: reminder and breach slots per escalation, claimed by the scheduler tick.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from pipeline.store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("clock_started_at", UTCDateTime(), True, None),
    ("clock_business", sa.Boolean(), False, sa.false()),
    ("chase_phase", sa.Integer(), False, "0"),
    ("chase_slot", sa.Integer(), False, "0"),
    ("chase_at", UTCDateTime(), True, None),
    ("chase_lease_until", UTCDateTime(), True, None),
    ("paused_at", UTCDateTime(), True, None),
    ("paused_seconds", sa.Float(), False, "0"),
)


def upgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        for name, kind, nullable, default in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=nullable, server_default=default))
    # Open escalations from before: their clock started when they opened; chase from the deadline.
    op.execute(
        "update escalations set clock_started_at = coalesce(explained_at, opened_at),"
        " chase_at = case when state in ('awaiting_explanation', 'awaiting_root_cause') then deadline end"
    )
    with op.batch_alter_table("escalations") as batch:
        for name, _, _, default in _COLUMNS:
            if default is not None:
                batch.alter_column(name, server_default=None)
        batch.create_index("ix_escalations_chase_at", ["chase_at"])


def downgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.drop_index("ix_escalations_chase_at")
        for name, _, _, _ in reversed(_COLUMNS):
            batch.drop_column(name)
