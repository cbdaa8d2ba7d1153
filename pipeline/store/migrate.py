"""Alembic, driven from code: ``qmark db upgrade`` and the test fixtures call this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config for ``database_url`` without any alembic.ini on disk."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema at ``database_url`` up to ``revision``."""
    from pipeline.store.db import make_engine

    make_engine(database_url).dispose()  # creates the SQLite folder if needed
    command.upgrade(alembic_config(database_url), revision)


def current_head() -> str | None:
    """The newest revision the code knows."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def schema_revision(database_url: str) -> str | None:
    """The revision the database at ``database_url`` is at (None when it has no schema yet)."""
    from alembic.runtime.migration import MigrationContext

    from pipeline.store.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
