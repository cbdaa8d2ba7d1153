"""Read-only looks into a test database, for assertions."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import create_engine, text


def rows(database_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql), params))
    finally:
        engine.dispose()


def scalar(database_url: str, sql: str, **params: Any) -> Any:
    return rows(database_url, sql, **params)[0][0]


def decoded(value: Any) -> Any:
    """A JSON column read with raw SQL: PostgreSQL's driver decodes it, SQLite's gives the text."""
    return json.loads(value) if isinstance(value, str) else value
