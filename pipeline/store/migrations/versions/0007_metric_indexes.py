"""Indexes that keep a /metrics scrape cheap on a large database (counts by outcome, state, kind).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_outcome_channel", "messages", ["outcome", "channel"])
    op.create_index("ix_outbound_mails_state_kind", "outbound_mails", ["state", "kind"])
    op.create_index("ix_events_kind", "events", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_events_kind", table_name="events")
    op.drop_index("ix_outbound_mails_state_kind", table_name="outbound_mails")
    op.drop_index("ix_messages_outcome_channel", table_name="messages")
