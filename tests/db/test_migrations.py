"""Alembic: the models and the migrations agree, and every migration goes down and up again.

`alembic check` runs against the suite's migrated database on each backend. The round trips
run on a database of their own (a temporary SQLite file, a PostgreSQL database created here
and dropped afterwards), so they never disturb the database the other tests share.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import triage.models  # noqa: F401  (fills the metadata)
from triage.db import Base, make_engine
from triage.migrations import alembic_config

PG_ADMIN_URL = os.environ.get(
    "TRIAGE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def test_models_and_migrations_agree(database_url: str) -> None:
    """`alembic check`: autogenerate would find nothing to add, drop or alter."""
    command.check(alembic_config(database_url))


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database nobody else uses, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"triage_migrations_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    host_part = PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql+psycopg://{host_part}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


MODEL_TABLES = set(Base.metadata.tables)


def test_downgrade_to_base_and_upgrade_to_head(fresh_database_url: str) -> None:
    url = fresh_database_url
    config = alembic_config(url)
    command.upgrade(config, "head")
    assert tables(url) == MODEL_TABLES | {"alembic_version"}
    command.check(config)

    command.downgrade(config, "base")
    assert tables(url) <= {"alembic_version"}, "downgrade to base left tables behind"

    command.upgrade(config, "head")
    assert tables(url) == MODEL_TABLES | {"alembic_version"}
    command.check(config)


def test_each_migration_goes_down_and_up_again(fresh_database_url: str) -> None:
    """The stairway: up one revision, down one, up again, from the first to the head."""
    config = alembic_config(fresh_database_url)
    script = ScriptDirectory.from_config(config)
    revisions = list(reversed(list(script.walk_revisions("base", "heads"))))
    assert revisions, "no migrations"
    for revision in revisions:
        command.upgrade(config, revision.revision)
        command.downgrade(config, revision.down_revision or "base")
        command.upgrade(config, revision.revision)
    assert [r.revision for r in revisions][-1] in script.get_heads()
    command.check(config)
