"""``qmark db upgrade``, and the settings every other command starts from: the config, and a database
at the current schema (:func:`pipeline.store.schema.require_current`), else one line naming the
database and the fix.
"""

from __future__ import annotations

import argparse
from contextlib import suppress

from pipeline.config.load import load_settings
from pipeline.config.settings import Settings
from pipeline.store.schema import DatabaseUnreachable, require_current
from workers.cli.output import EX_OK


def settings(args: argparse.Namespace) -> Settings:
    """The settings of ``--config`` (else ``$QMARK_CONFIG``, else ./qmark.toml) and ``QMARK_*``."""
    return load_settings(args.config)


def ready(args: argparse.Namespace) -> Settings:
    """:func:`settings`, once the database is known to be at the current schema.

    A database that cannot be reached at all passes: each command says so its own way
    (``inject`` exits 75 so the MTA retries, ``status`` reports ``failing``).
    """
    found = settings(args)
    with suppress(DatabaseUnreachable):
        require_current(found.storage.database_url)
    return found


def upgrade_command(found: Settings) -> int:
    """Migrate the database to the newest schema (creating it, for SQLite)."""
    from pipeline.store.migrate import upgrade

    upgrade(found.storage.database_url)
    print(f"database at head: {found.storage.database_url}")
    return EX_OK


def run_upgrade(args: argparse.Namespace) -> int:
    """``qmark db upgrade``."""
    return upgrade_command(settings(args))
