"""Fixtures shared by every test package: where ../shared is, and the local PostgreSQL server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_EVAL = ROOT.parent / "shared" / "eval"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def shared_file(name: str) -> Path:
    """A file of ../shared/eval, or a clean skip when the checkout has no ../shared."""
    path = SHARED_EVAL / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared is not beside this checkout)")
    return path


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A fresh schema on the local PostgreSQL (database ``test``), dropped afterwards."""
    import sqlalchemy as sa

    try:
        admin = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            schema = f"rd_{uuid.uuid4().hex[:10]}"
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # no server here: say so instead of failing
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432/test is not reachable: {type(exc).__name__}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
