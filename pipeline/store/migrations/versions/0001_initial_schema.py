"""Initial schema: messages, escalations, events, outbound_mails.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("executive", sa.String(320), nullable=False),
        sa.Column("executive_name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(320), nullable=False),
        sa.Column("owner_name", sa.String(200), nullable=False),
        sa.Column("route", sa.String(100), nullable=False),
        sa.Column("deadline", UTC, nullable=False),
        sa.Column("opened_at", UTC, nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("customer", sa.String(320), nullable=False),
        sa.Column("executive_note", sa.Text(), nullable=False),
        sa.Column("source_message_id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(1000), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_escalations"),
        sa.UniqueConstraint("dedupe_key", name="uq_escalations_dedupe_key"),
    )
    op.create_index("ix_escalations_state_deadline", "escalations", ["state", "deadline"])
    op.create_index("ix_escalations_source_message_id", "escalations", ["source_message_id"])

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["escalation_id"], ["escalations.id"], name="fk_events_escalation_id_escalations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_escalation_id", "events", ["escalation_id"])

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("mail_from", sa.String(998), nullable=False),
        sa.Column("rcpt_tos", sa.JSON(), nullable=False),
        sa.Column("peer", sa.String(255), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("header_message_id", sa.String(998), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UTC, nullable=True),
        sa.Column("enqueued_at", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", UTC, nullable=True),
        sa.Column("escalation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"], ["escalations.id"], name="fk_messages_escalation_id_escalations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
    )
    op.create_index("ix_messages_header_message_id", "messages", ["header_message_id"])
    op.create_index("ix_messages_sha256", "messages", ["sha256"])
    op.create_index("ix_messages_state_received", "messages", ["state", "received_at"])

    op.create_table(
        "outbound_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("step", sa.String(40), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("envelope_from", sa.String(320), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UTC, nullable=True),
        sa.Column("enqueued_at", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"], ["escalations.id"], name="fk_outbound_mails_escalation_id_escalations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_mails"),
        sa.UniqueConstraint("escalation_id", "kind", "step", "recipient", name="uq_outbound_mails_step"),
        sa.UniqueConstraint("message_id", name="uq_outbound_mails_message_id"),
    )
    op.create_index("ix_outbound_mails_escalation_id", "outbound_mails", ["escalation_id"])
    op.create_index("ix_outbound_mails_state_created", "outbound_mails", ["state", "created_at"])


def downgrade() -> None:
    op.drop_table("outbound_mails")
    op.drop_table("messages")
    op.drop_table("events")
    op.drop_table("escalations")
