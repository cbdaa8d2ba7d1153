"""Escalation number reservations (render mail outside the write transaction).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalation_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_escalation_numbers"),
    )
    # Continue after any escalation that already exists.
    op.execute("insert into escalation_numbers (id) select id from escalations")


def downgrade() -> None:
    op.drop_table("escalation_numbers")
