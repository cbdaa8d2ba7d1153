"""``qmark db upgrade``, and the settings every other command starts from: the config, and a database
at the current schema.

A command that uses the database first checks that it exists and is at the newest schema, and
else stops with one line naming the database and the fix. It checks before connecting: SQLite
creates a missing file (and :func:`pipeline.store.db.make_engine` its folder) on first connect,
so a mistyped path would otherwise leave an empty database behind.
"""

from __future__ import annotations

import argparse
from contextlib import suppress
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from pipeline.config.load import load_settings
from pipeline.config.settings import Settings
from workers.cli.output import EX_OK

FIX = "run: qmark db upgrade"


class SchemaNotCurrent(Exception):
    """The database does not exist or is not at the newest schema; the message names it and the fix."""


def settings(args: argparse.Namespace) -> Settings:
    """The settings of ``--config`` (else ``$QMARK_CONFIG``, else ./qmark.toml) and ``QMARK_*``."""
    return load_settings(args.config)


def ready(args: argparse.Namespace) -> Settings:
    """:func:`settings`, once the database is known to be at the current schema.

    A database that cannot be reached at all passes: each command says so its own way
    (``inject`` exits 75 so the MTA retries, ``status`` reports ``failing``).
    """
    found = settings(args)
    with suppress(SQLAlchemyError):
        require_current_schema(found.storage.database_url)
    return found


def require_current_schema(database_url: str) -> None:
    """Raise :class:`SchemaNotCurrent` unless the database exists and is at the newest schema.

    Raises ``SQLAlchemyError`` when the database cannot be reached.
    """
    from pipeline.store.migrate import current_head, schema_revision  # Alembic: only when it is needed

    url = make_url(database_url)
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    name = str(Path(str(url.database)).absolute()) if on_disk else url.render_as_string(hide_password=True)
    if on_disk and not Path(name).is_file():
        raise SchemaNotCurrent(f"there is no database at {name}; {FIX}")
    found, head = schema_revision(database_url), current_head()
    if found is None:
        raise SchemaNotCurrent(f"the database {name} has no schema; {FIX}")
    if found != head:
        raise SchemaNotCurrent(f"the database {name} is at schema {found}, not {head}; {FIX}")


def upgrade_command(found: Settings) -> int:
    """Migrate the database to the newest schema (creating it, for SQLite)."""
    from pipeline.store.migrate import upgrade

    upgrade(found.storage.database_url)
    print(f"database at head: {found.storage.database_url}")
    return EX_OK


def run_upgrade(args: argparse.Namespace) -> int:
    """``qmark db upgrade``."""
    return upgrade_command(settings(args))
