"""Loading many rows into PostgreSQL: constraints and plain indexes built once, afterwards.

PostgreSQL's own advice for populating a database ("Populating a Database" in its manual:
remove indexes, remove foreign key constraints, use COPY): a foreign key checks its
referenced row for every row COPY adds, and each index is updated row by row; building them
again after the load costs one sort per index and one join per key. Measured here, COPY of a
demo history with them in place took 3.2 times as long as without (60,000 referrals:
10.7 s against 3.3 s of PostgreSQL).

Primary keys stay (other tables' foreign keys name them). Unique constraints are checked
over all rows when they are added again, and so is each foreign key: a duplicate reference or
a row without its referral fails the load, naming the constraint, and the others are still
built. A load stopped half-way (the process killed) leaves some out: `restore` builds any of
the models' that the database lacks, and the demo command calls it before it starts.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import (
    Connection,
    Engine,
    ForeignKeyConstraint,
    Index,
    UniqueConstraint,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

import triage.models  # noqa: F401 (every table in Base.metadata)
from triage.db import SORT_MEMORY, Base

Note = Callable[[str], None]


Constraint = ForeignKeyConstraint | UniqueConstraint


def deferrable(table_names: Iterable[str]) -> tuple[list[Index], list[Constraint]]:
    """The plain (not unique) indexes of these tables, by the models, and their constraints
    but the primary keys: unique ones first, then foreign keys."""
    chosen = [Base.metadata.tables[name] for name in table_names]
    indexes = [i for t in chosen for i in t.indexes if not i.unique]
    unique = [c for t in chosen for c in t.constraints if isinstance(c, UniqueConstraint)]
    keys = [c for t in chosen for c in t.constraints if isinstance(c, ForeignKeyConstraint)]
    return sorted(indexes, key=_name), sorted(unique, key=_name) + sorted(keys, key=_name)


@contextmanager
def deferred(
    engine: Engine, table_names: Iterable[str], note: Note | None = None
) -> Iterator[None]:
    """Drop the tables' plain indexes and constraints but primary keys, run the load, then
    build them again (also when the load fails, so the database is never left without)."""
    names = list(table_names)
    indexes, constraints = deferrable(names)
    with engine.begin() as connection:
        indexes_there, constraints_there = present(connection)
        for constraint in reversed(constraints):  # foreign keys first
            if constraint.name in constraints_there:
                connection.execute(DropConstraint(constraint))
        for index in indexes:
            if index.name in indexes_there:
                connection.execute(DropIndex(index))
    try:
        yield
    finally:
        restore(engine, names, note)


def restore(engine: Engine, table_names: Iterable[str], note: Note | None = None) -> int:
    """Build every plain index and constraint of these tables that the database lacks;
    answers how many were built."""
    indexes, constraints = deferrable(table_names)
    with engine.connect() as connection:
        indexes_there, constraints_there = present(connection)
    missing_indexes = [i for i in indexes if i.name not in indexes_there]
    missing = [c for c in constraints if c.name not in constraints_there]
    if not (missing_indexes or missing):
        return 0
    if note:
        note(f"building {len(missing_indexes)} indexes and {len(missing)} constraints")
    with engine.begin() as connection:
        connection.execute(text(f"SET LOCAL maintenance_work_mem = '{SORT_MEMORY}'"))
        for index in missing_indexes:
            connection.execute(CreateIndex(index))
    failed = []
    for constraint in missing:  # each alone: one the rows break leaves the others built
        try:
            with engine.begin() as connection:
                connection.execute(text(f"SET LOCAL maintenance_work_mem = '{SORT_MEMORY}'"))
                connection.execute(AddConstraint(constraint))
        except DBAPIError as error:
            failed.append(f"{constraint.name}: {error.orig}")
    if failed:
        raise RuntimeError("the rows break constraints; not built: " + "; ".join(failed))
    return len(missing_indexes) + len(missing)


def present(connection: Connection) -> tuple[set[str], set[str]]:
    """Names of the indexes and of the unique and foreign-key constraints in the current
    schema."""
    indexes = connection.scalars(
        text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    )
    constraints = connection.scalars(
        text(
            "SELECT conname FROM pg_constraint WHERE contype IN ('f', 'u') "
            "AND connamespace = current_schema()::regnamespace"
        )
    )
    return set(indexes), set(constraints)


def _name(item: Index | Constraint) -> str:
    return str(item.name)
