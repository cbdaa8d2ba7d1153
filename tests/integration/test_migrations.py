"""Migrations build exactly the models on SQLite (PostgreSQL: test_postgres.py)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from pipeline.store.migrate import current_head, schema_revision, upgrade
from pipeline.store.models import Base

pytestmark = pytest.mark.integration


def test_the_migrations_build_exactly_the_models_on_each_store(database_url):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()
    assert schema_revision(database_url) == current_head()


def test_upgrading_from_0001_keeps_escalation_numbers_after_existing_escalations(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "insert into escalations (id, state, executive, executive_name, owner, owner_name, route,"
                " deadline, opened_at, subject, customer, executive_note, source_message_id, dedupe_key)"
                " values (7, 'closed', 'e', 'E', 'o', 'O', 'r', '2026-01-01', '2026-01-01',"
                " 's', 'c', '?', 1, 'k')"
            )
        )
    upgrade(url)
    with engine.begin() as connection:
        reserved = connection.execute(
            text("insert into escalation_numbers default values returning id")
        ).scalar()
    engine.dispose()
    assert reserved == 8
