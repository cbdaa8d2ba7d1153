"""IMAP intake: per-folder progress (UIDVALIDITY, last UID) and the poller lease.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from pipeline.store.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imap_mailboxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(1000), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_poll_at", UTCDateTime(), nullable=True),
        sa.Column("last_ingest_at", UTCDateTime(), nullable=True),
        sa.Column("ingested", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_imap_mailboxes"),
        sa.UniqueConstraint("key", name="uq_imap_mailboxes_key"),
    )


def downgrade() -> None:
    op.drop_table("imap_mailboxes")
