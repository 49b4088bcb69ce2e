"""Alembic environment: runs the migrations on a connection handed in (``core.db.migrate``) or a URL.

``target_metadata`` is the tables of ``core/tables.py``, so that ``alembic revision --autogenerate``
and the schema test (``tests/core/test_schema.py``) compare the migrations with the code that uses
them: the two must never drift.
"""

from alembic import context
from sqlalchemy import create_engine

import core.tables  # noqa: F401  (registers every table on the shared metadata)
from core.db import metadata

config = context.config
target_metadata = metadata


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
