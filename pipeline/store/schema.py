"""Whether the database is there and at the newest schema, checked before anything connects to it.

SQLite creates a missing file (and :func:`pipeline.store.db.make_engine` its folder) on first
connect, so a mistyped path would leave an empty database behind: the file must exist before
the schema is read. Every command that uses the database, and every server role, checks here.
"""

from __future__ import annotations

from pathlib import Path

FIX = "run: qmark db upgrade"


class SchemaNotCurrent(Exception):
    """The database does not exist or is not at the newest schema; the message names it and the fix."""


class DatabaseUnreachable(Exception):
    """The database could not be reached to read its schema; the message says why."""


def require_current(database_url: str) -> None:
    """Raise :class:`SchemaNotCurrent` unless the database exists and is at the newest schema.

    Raises :class:`DatabaseUnreachable` when the database cannot be reached.
    """
    from sqlalchemy.engine import make_url  # SQLAlchemy and Alembic: only when a command needs them
    from sqlalchemy.exc import SQLAlchemyError

    from pipeline.store.migrate import current_head, schema_revision

    url = make_url(database_url)
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    name = str(Path(str(url.database)).absolute()) if on_disk else url.render_as_string(hide_password=True)
    if on_disk and not Path(name).is_file():
        raise SchemaNotCurrent(f"there is no database at {name}; {FIX}")
    try:
        found = schema_revision(database_url)
    except SQLAlchemyError as error:
        raise DatabaseUnreachable(f"cannot read the database {name}: {error}") from error
    head = current_head()
    if found is None:
        raise SchemaNotCurrent(f"the database {name} has no schema; {FIX}")
    if found != head:
        raise SchemaNotCurrent(f"the database {name} is at schema {found}, not {head}; {FIX}")
