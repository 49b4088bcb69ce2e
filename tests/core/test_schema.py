"""``core/tables.py`` and the Alembic migrations describe one schema, on SQLite and on PostgreSQL.

Autogenerate (``compare_metadata``) compares tables, columns, types, nullability, server defaults,
keys and indexes; it does not compare a partial index's WHERE clause, so that is checked here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import core.tables  # noqa: F401  (registers the tables)
from core.db import MIGRATIONS_DIR, alembic_config, make_engine, metadata, migrate
from core.tables import SQLITE_FTS_DDL, SQLITE_FTS_SHADOWS, SQLITE_FTS_TABLE


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path}/schema.db" if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _not_fts(name: str | None, type_: str, _parent: Any) -> bool:
    """SQLite's FTS5 table and its shadow tables are not SQLAlchemy metadata: checked on their own below."""
    return not (type_ == "table" and name in (SQLITE_FTS_TABLE, *SQLITE_FTS_SHADOWS))


def _for_dialect(dialect: str) -> Any:
    """Leave out what the metadata declares for another dialect only (``Index(...).ddl_if(dialect=...)``)."""
    # By name, from the declared metadata: a copy made with ``to_metadata`` does not keep ``ddl_if``.
    elsewhere = {ix.name for t in metadata.tables.values() for ix in t.indexes
                 if ix._ddl_if is not None and ix._ddl_if.dialect not in (None, dialect)}

    def include(_obj: Any, name: Any, type_: str, _reflected: bool, _compare_to: Any) -> bool:
        return not (type_ == "index" and name in elsewhere)
    return include


def _diff(engine: sa.Engine, meta: sa.MetaData = metadata) -> list[Any]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                     "include_name": _not_fts,
                                                     "include_object": _for_dialect(engine.dialect.name)})
        return list(compare_metadata(ctx, meta))


def _fts_tables(engine: sa.Engine) -> dict[str, str]:
    """name -> CREATE statement of every virtual table (SQLite), with the shadow tables it owns."""
    if engine.dialect.name != "sqlite":
        return {}
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                                    "AND (sql LIKE 'CREATE VIRTUAL TABLE%' OR name LIKE :shadow)"),
                            {"shadow": f"{SQLITE_FTS_TABLE}_%"}).all()
    return {r.name: r.sql for r in rows}


def _predicate(sql: str) -> str:
    """A WHERE clause as PostgreSQL or SQLite gives it back, reduced to compare with ours."""
    return re.sub(r"\s+|::\w+|[()]", "", sql).lower()


def _partial_indexes(engine: sa.Engine) -> dict[str, str]:
    name = engine.dialect.name
    found = {}
    for table in sa.inspect(engine).get_table_names():
        for ix in sa.inspect(engine).get_indexes(table):
            where = (ix.get("dialect_options") or {}).get(f"{name}_where")
            if where is not None:
                found[ix["name"]] = _predicate(str(where))
    return found


def _declared_partial_indexes(dialect: str) -> dict[str, str]:
    found = {}
    for table in metadata.tables.values():
        for ix in table.indexes:
            where = ix.dialect_options[dialect].get("where")
            if where is not None:
                found[str(ix.name)] = _predicate(str(where))
    return found


def test_the_migrations_build_exactly_the_declared_schema(engine: sa.Engine) -> None:
    migrate(engine)
    assert _diff(engine) == []
    assert _partial_indexes(engine) == _declared_partial_indexes(engine.dialect.name) != {}
    # The full-text structures the diff cannot see: SQLite's FTS5 table exactly as declared (its
    # shadow tables and nothing else besides), PostgreSQL's GIN index over the tsvector.
    fts = _fts_tables(engine)
    if engine.dialect.name == "sqlite":
        assert fts == {SQLITE_FTS_TABLE: SQLITE_FTS_DDL, **{n: fts.get(n, "missing") for n in SQLITE_FTS_SHADOWS}}
        assert all(fts[n] != "missing" for n in SQLITE_FTS_SHADOWS)
    else:
        gin = {ix["name"]: ix for ix in sa.inspect(engine).get_indexes("knowledge_chunks")}["ix_knowledge_chunks_tsv"]
        assert gin["column_names"] == ["tsv"] and gin["dialect_options"].get("postgresql_using") == "gin"
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head


def test_the_comparison_sees_a_drift(engine: sa.Engine) -> None:
    """The check above can fail: an index or column only in the code is reported."""
    migrate(engine)
    drifted = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    sa.Index("ix_drafts_note", drifted.tables["drafts"].c.note)
    drifted.tables["shops"].append_column(sa.Column("motto", sa.Text))
    kinds = sorted(d[0] for d in _diff(engine, drifted))
    assert kinds == ["add_column", "add_index"]


def test_the_newest_migration_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path}/down.db")
    migrate(eng)
    with eng.begin() as conn:
        cfg = alembic_config(str(eng.url))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    migrate(eng)
    assert _diff(eng) == []
    eng.dispose()
