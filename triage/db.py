"""Engine, sessions and the declarative base shared by every domain's models.

SQLite is the embedded default: WAL, a busy timeout, `BEGIN IMMEDIATE` and a single pooled
connection, so writers queue in the pool instead of failing with "database is locked"
(DESIGN 2: 16 concurrent writers measured p99 ~1 s with a pool, ~110 ms with one).
PostgreSQL is the production database: a connection that cannot be opened in
`CONNECT_TIMEOUT` seconds fails, and `unreachable` tells such failures from other errors
(the edge answers them 503, ADR 14).
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Executable,
    MetaData,
    Table,
    create_engine,
    event,
    exc,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Memory for each sort that builds an index or a key after a bulk load (the server's default
# is 64 MB).
SORT_MEMORY = "256MB"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Seconds to open a PostgreSQL connection, then fail (psycopg waits 130 s by default, so a
# request would outlive any client's patience; libpq takes 2 at least).
CONNECT_TIMEOUT = 5
# SQLSTATEs of a connection that is gone or cannot be had now: class 08 (connection
# exception), 57P01-57P03 (the server shutting down, crashed, starting up).
GONE_SQLSTATES = ("08", "57P01", "57P02", "57P03")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on both databases (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[str] | None: JSON,
        list[dict[str, Any]]: JSON,
    }


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements built once and run with parameters (the ORM
    would coerce each value into a new statement: measured, a third of intake's CPU)."""
    return cast(Table, model.__table__)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Engine:
    """An engine configured for the database behind `url`."""
    if not is_sqlite(url):
        # No pre-ping: a checkout costs no extra round trip; connections are recycled
        # hourly instead, and a broken one fails its request (503) and leaves the pool, and
        # with it every connection opened before it (SQLAlchemy invalidates the pool on a
        # disconnect): after a database restart, the first request to meet a connection it
        # ended fails, not one per pooled connection (ADR 14, tests/faults).
        return create_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_recycle=3600,
            connect_args={"connect_timeout": CONNECT_TIMEOUT},
        )
    engine = create_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=60,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def session_factory_for(url: str) -> sessionmaker[Session]:
    """Sessions on the database at `url` (what each command opens)."""
    return make_session_factory(make_engine(url))


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


# Where a session in a `write_behind` block keeps its queued statements (in `Session.info`).
_BEHIND = "triage.db.write_behind"


def write(
    session: Session, statement: Executable, rows: dict[str, Any] | list[dict[str, Any]]
) -> None:
    """Run a statement that writes rows and reads nothing back (an append to a log, a flag
    cleared): now, or, in a `write_behind` block, at the block's end."""
    queued: dict[Executable, list[dict[str, Any]]] | None = session.info.get(_BEHIND)
    if queued is None:
        session.execute(statement, rows)
    else:
        queued.setdefault(statement, []).extend(rows if isinstance(rows, list) else [rows])


def writing_behind(session: Session) -> bool:
    """Whether the session is in a `write_behind` block (changes then reach the database at
    its end, not at each `flush`)."""
    return _BEHIND in session.info


@contextmanager
def write_behind(session: Session) -> Iterator[None]:
    """Within the block, `write` queues its statements; at its end the ORM's changes are
    flushed, then each queued statement runs once with all its rows, in the order first
    queued: a sweep's batch of hundreds of referrals costs a few round trips, not several
    for each.

    Only for work whose referrals are independent (each statement's rows of one referral
    must not depend on another's) and that reads none of the queued rows back inside the
    block. An error inside leaves nothing queued; the caller's transaction rolls back.
    """
    if writing_behind(session):
        raise RuntimeError("write_behind blocks do not nest")
    queued: dict[Executable, list[dict[str, Any]]] = {}
    session.info[_BEHIND] = queued
    try:
        yield
        session.flush()
        for statement, rows in queued.items():
            session.execute(statement, rows)
    finally:
        del session.info[_BEHIND]


def ping(engine: Engine) -> None:
    """Raise unless the database answers a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def unreachable(error: BaseException) -> str | None:
    """Whether `error` (or what raised it) says the database could not be reached, rather
    than that it refused a statement: a lost or refused connection, a connect that timed
    out, a server shutting down or starting up, no free connection in the pool, SQLite's
    file held by another writer past the busy timeout. Answers what happened for a log line
    (the kinds and the SQLSTATE, never the error's text, which can hold a statement's
    parameters), or None for any other error."""
    current: BaseException | None = error
    for _ in range(5):  # the error, then what it was raised from or while handling
        if current is None:
            return None
        why = _why_unreachable(current)
        if why is not None:
            return f"{type(error).__name__} ({why})"
        current = current.__cause__ or current.__context__
    return None


def _why_unreachable(error: BaseException) -> str | None:
    if isinstance(error, exc.TimeoutError):
        return "no free connection in the pool"
    if isinstance(error, exc.DisconnectionError):
        return "connection lost"
    driver: BaseException | None = error
    if isinstance(error, exc.DBAPIError):
        driver = error.orig
        if error.connection_invalidated:
            return f"connection lost: {_kind(driver)}"
        if isinstance(error, exc.InterfaceError):
            return f"interface: {_kind(driver)}"
    if isinstance(driver, psycopg.InterfaceError):
        return f"interface: {_kind(driver)}"
    if isinstance(driver, psycopg.OperationalError):
        state = driver.sqlstate
        # No SQLSTATE: psycopg's own (connection refused or timed out, server closed it).
        if state is None or state.startswith(GONE_SQLSTATES):
            return _kind(driver)
        return None
    if isinstance(driver, sqlite3.OperationalError):
        code = getattr(driver, "sqlite_errorcode", None)
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return _kind(driver)
    return None


def _kind(error: BaseException | None) -> str:
    """A driver error's class and SQLSTATE: what it was, not what it said."""
    if error is None:
        return "no driver error"
    state = getattr(error, "sqlstate", None)
    name = f"{type(error).__module__}.{type(error).__qualname__}"
    return f"{name} {state}" if state else name
