"""Repeat complaints: the customer's domain, a short complaint text and the indexes the lookup reads.

Existing escalations are backfilled: the domain from the customer's address (in SQL), the
complaint text from the subject alone (the body sits in the stored mail, too costly to parse
here), in batches.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from pipeline.model.related import complaint_key

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 2000


def upgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(sa.Column("customer_domain", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("complaint_key", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("recurred_after", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_escalations_recurred_after_escalations", "escalations", ["recurred_after"], ["id"]
        )
    op.create_index("ix_escalations_recurred_after", "escalations", ["recurred_after"])
    op.create_index("ix_escalations_customer_opened_at", "escalations", ["customer", "opened_at"])
    op.create_index(
        "ix_escalations_customer_domain_opened_at", "escalations", ["customer_domain", "opened_at"]
    )
    op.create_index("ix_escalations_route_opened_at", "escalations", ["route", "opened_at"])
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        domain = "lower(substr(customer, instr(customer, '@') + 1))"
    else:
        domain = "lower(substr(customer, strpos(customer, '@') + 1))"
    op.execute(f"update escalations set customer_domain = {domain} where customer like '%_@_%'")
    select = sa.text("select id, subject from escalations where id > :after order by id limit :batch")
    update = sa.text("update escalations set complaint_key = :key where id = :id")
    after = 0
    while rows := bind.execute(select, {"after": after, "batch": BATCH}).all():
        bind.execute(update, [{"id": number, "key": complaint_key(subject or "", "")} for number, subject in rows])
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_escalations_route_opened_at", table_name="escalations")
    op.drop_index("ix_escalations_customer_domain_opened_at", table_name="escalations")
    op.drop_index("ix_escalations_customer_opened_at", table_name="escalations")
    op.drop_index("ix_escalations_recurred_after", table_name="escalations")
    with op.batch_alter_table("escalations") as batch:
        batch.drop_constraint("fk_escalations_recurred_after_escalations", type_="foreignkey")
        batch.drop_column("recurred_after")
        batch.drop_column("complaint_key")
        batch.drop_column("customer_domain")
