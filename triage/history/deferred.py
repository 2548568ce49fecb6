"""Loading many rows into PostgreSQL: foreign keys and plain indexes built once, afterwards.

PostgreSQL's own advice for populating a database ("Populating a Database" in its manual:
remove indexes, remove foreign key constraints, use COPY): a foreign key checks its
referenced row for every row COPY adds, and each index is updated row by row; building them
again after the load costs one sort per index and one join per key. Measured here, COPY of a
demo history with them in place took 3.2 times as long as without (60,000 referrals:
10.7 s against 3.3 s of PostgreSQL).

Primary keys and unique indexes stay, so a duplicate still fails at once; every foreign key
is validated over all rows when it is added again, so a row without its referral fails the
load. A load stopped half-way (the process killed) leaves some out: `restore` builds any of
the models' that the database lacks, and the demo command calls it before it starts.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, ForeignKeyConstraint, Index, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

import triage.models  # noqa: F401 (every table in Base.metadata)
from triage.db import Base

# Memory for each index build's sort (the server's default is 64 MB).
SORT_MEMORY = "256MB"

Note = Callable[[str], None]


def deferrable(table_names: Iterable[str]) -> tuple[list[Index], list[ForeignKeyConstraint]]:
    """The plain (not unique) indexes and the foreign keys of these tables, by the models."""
    chosen = [Base.metadata.tables[name] for name in table_names]
    indexes = [i for t in chosen for i in t.indexes if not i.unique]
    keys = [c for t in chosen for c in t.constraints if isinstance(c, ForeignKeyConstraint)]
    return sorted(indexes, key=_name), sorted(keys, key=_name)


@contextmanager
def deferred(
    engine: Engine, table_names: Iterable[str], note: Note | None = None
) -> Iterator[None]:
    """Drop the tables' plain indexes and foreign keys, run the load, then build them again
    (also when the load fails, so the database is never left without them)."""
    names = list(table_names)
    indexes, keys = deferrable(names)
    with engine.begin() as connection:
        indexes_there, keys_there = present(connection)
        for key in keys:
            if key.name in keys_there:
                connection.execute(DropConstraint(key))
        for index in indexes:
            if index.name in indexes_there:
                connection.execute(DropIndex(index))
    try:
        yield
    finally:
        restore(engine, names, note)


def restore(engine: Engine, table_names: Iterable[str], note: Note | None = None) -> int:
    """Build every plain index and foreign key of these tables that the database lacks;
    answers how many were built."""
    indexes, keys = deferrable(table_names)
    with engine.connect() as connection:
        indexes_there, keys_there = present(connection)
    missing_indexes = [i for i in indexes if i.name not in indexes_there]
    missing_keys = [k for k in keys if k.name not in keys_there]
    if not (missing_indexes or missing_keys):
        return 0
    if note:
        note(f"building {len(missing_indexes)} indexes and {len(missing_keys)} foreign keys")
    with engine.begin() as connection:
        connection.execute(text(f"SET LOCAL maintenance_work_mem = '{SORT_MEMORY}'"))
        for index in missing_indexes:
            connection.execute(CreateIndex(index))
    failed = []
    for key in missing_keys:  # each alone: one that fails its check leaves the others built
        try:
            with engine.begin() as connection:
                connection.execute(AddConstraint(key))
        except DBAPIError as error:
            failed.append(f"{key.name}: {error.orig}")
    if failed:
        raise RuntimeError("rows break foreign keys; not built: " + "; ".join(failed))
    return len(missing_indexes) + len(missing_keys)


def present(connection: Connection) -> tuple[set[str], set[str]]:
    """Names of the indexes and of the foreign keys in the current schema."""
    indexes = connection.scalars(
        text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    )
    keys = connection.scalars(
        text(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' "
            "AND connamespace = current_schema()::regnamespace"
        )
    )
    return set(indexes), set(keys)


def _name(item: Index | ForeignKeyConstraint) -> str:
    return str(item.name)
