"""Alembic environment: runs migrations on the engine qmark itself would build."""

from __future__ import annotations

from alembic import context

from pipeline.store.db import make_engine
from pipeline.store.models import Base

url = context.config.get_main_option("sqlalchemy.url")
assert url is not None
engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
