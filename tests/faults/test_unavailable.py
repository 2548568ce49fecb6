"""A database that cannot be reached answers 503 with Retry-After, at once, in one log line.

Down, restarting, a pooled connection the server dropped, a connect that never completes, no
free connection in the pool: the request did nothing, so the same request again is safe, and
the answer says so (503 and `Retry-After`) instead of a bare 500 (a bug) or a hang. A statement
the database refused (a constraint, a serialization failure) is still a 500: it is not the
database's absence. The log line names the kinds, never the error's text (it can hold the
statement's parameters: a victim's name).
"""

import logging
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import exc, text

from tests.conftest import PG_ADMIN_URL
from tests.faults.served import create_postgres, database_name, drop_postgres, free_port
from tests.support import PASSWORD, referral_body, victim
from triage import db
from triage.app import create_app
from triage.auth.service import add_user
from triage.config import Settings
from triage.db import transaction
from triage.edge import RETRY_AFTER, UNAVAILABLE
from triage.lifecycle.codes import Role
from triage.migrations import upgrade

SECRET = "Wilhelmina Featherstonehaugh"  # an invented victim, in every error's text
STATEMENT = "UPDATE referrals SET victim_full_name = %(name)s"
PARAMS = {"name": SECRET}


def locked_sqlite(folder: Path) -> sqlite3.OperationalError:
    """SQLite's own "database is locked": another connection holds the write lock."""
    path = folder / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    second = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        second.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        return error
    finally:
        second.close()
        holder.close()
    raise AssertionError("the second writer was not refused")


def no_such_table() -> sqlite3.OperationalError:
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(f"SELECT '{SECRET}' FROM nowhere")
    except sqlite3.OperationalError as error:
        return error
    finally:
        connection.close()
    raise AssertionError("SQLite ran a statement on a missing table")


def raised_from(cause: BaseException) -> BaseException:
    try:
        raise cause
    except BaseException as inner:
        try:
            raise RuntimeError(f"could not save {SECRET}") from inner
        except RuntimeError as outer:
            return outer


Make = Callable[[Path], BaseException]
# What SQLAlchemy and the drivers raise when the database is not there, with the kind the log
# line names.
UNREACHABLE: dict[str, tuple[Make, str]] = {
    "a pooled connection the server closed": (
        lambda _: exc.OperationalError(
            STATEMENT,
            PARAMS,
            psycopg.errors.AdminShutdown(f"terminating connection: {SECRET}"),
            connection_invalidated=True,
        ),
        "connection lost: psycopg.errors.AdminShutdown 57P01",
    ),
    "a connection refused": (
        lambda _: exc.OperationalError(
            None, None, psycopg.OperationalError(f"connection failed: refused {SECRET}")
        ),
        "psycopg.OperationalError",
    ),
    "a server starting up": (
        lambda _: exc.OperationalError(
            None, None, psycopg.errors.CannotConnectNow(f"starting up {SECRET}")
        ),
        "CannotConnectNow 57P03",
    ),
    "a connect that timed out": (
        lambda _: exc.OperationalError(None, None, psycopg.errors.ConnectionTimeout(SECRET)),
        "ConnectionTimeout",
    ),
    "a closed connection used": (
        lambda _: exc.InterfaceError(STATEMENT, PARAMS, psycopg.InterfaceError(SECRET)),
        "interface: psycopg.InterfaceError",
    ),
    "no free connection in the pool": (
        lambda _: exc.TimeoutError(f"QueuePool limit of size 20 overflow 10 reached {SECRET}"),
        "no free connection in the pool",
    ),
    "the driver's error unwrapped": (
        lambda _: psycopg.errors.AdminShutdown(SECRET),
        "AdminShutdown 57P01",
    ),
    "an error raised from a lost connection": (
        lambda _: raised_from(
            exc.OperationalError(
                STATEMENT, PARAMS, psycopg.OperationalError(SECRET), connection_invalidated=True
            )
        ),
        "RuntimeError (connection lost",
    ),
    "SQLite's file held by another writer": (
        lambda folder: exc.OperationalError(STATEMENT, PARAMS, locked_sqlite(folder)),
        "sqlite3.OperationalError",
    ),
}
# Errors from a database that answered: still a plain 500.
REFUSED: dict[str, Make] = {
    "a constraint": lambda _: exc.IntegrityError(
        STATEMENT, PARAMS, psycopg.errors.UniqueViolation(SECRET)
    ),
    "a serialization failure": lambda _: exc.OperationalError(
        STATEMENT, PARAMS, psycopg.errors.SerializationFailure(SECRET)
    ),
    "a statement SQLite cannot run": lambda _: exc.OperationalError(
        STATEMENT, PARAMS, no_such_table()
    ),
    "a bug": lambda _: ValueError(SECRET),
}


def app_on(url: str) -> Any:
    return create_app(Settings(database_url=url, scheduler=False))


@pytest.fixture
def raising(tmp_path: Path) -> Iterator[tuple[TestClient, list[BaseException]]]:
    """An app whose every signed-in request raises the error put in the list (from the
    first thing each does with the database: checking the bearer token)."""
    app = app_on(f"sqlite:///{tmp_path / 'unused.db'}")
    error: list[BaseException] = []

    def authenticate(session: Any, *, token: str | None, now: datetime) -> Any:
        raise error[0]

    app.state.authenticate = authenticate
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, error
    app.state.engine.dispose()


def requests_of(client: TestClient) -> list[Any]:
    headers = {"Authorization": "Bearer any", "Idempotency-Key": "k-1"}
    body = referral_body(victim=victim(full_name=SECRET))
    return [
        client.get("/api/referrals", headers=headers),
        client.post("/api/referrals", json=body, headers=headers),
    ]


def edge_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "triage.edge"]


@pytest.mark.parametrize("case", list(UNREACHABLE))
def test_a_database_out_of_reach_answers_503_with_retry_after_logged_in_one_line(
    case: str,
    raising: tuple[TestClient, list[BaseException]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, error = raising
    make, kind = UNREACHABLE[case]
    error.append(make(tmp_path))
    with caplog.at_level(logging.INFO, logger="triage.edge"):
        answers = requests_of(client)
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json() == {"detail": UNAVAILABLE}
        assert answer.headers["Retry-After"] == str(RETRY_AFTER)
    records = edge_records(caplog)
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING]
    lines = [r.getMessage() for r in records]
    assert lines[0].startswith("database unavailable: ") and lines[0].endswith(
        " on GET /api/referrals"
    ), lines
    assert lines[1].endswith(" on POST /api/referrals"), lines
    for line in lines:
        assert kind in line and "\n" not in line, (kind, line)
    assert SECRET not in caplog.text


@pytest.mark.parametrize("case", list(REFUSED))
def test_an_error_from_a_database_that_answered_is_still_a_plain_500(
    case: str,
    raising: tuple[TestClient, list[BaseException]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, error = raising
    error.append(REFUSED[case](tmp_path))
    with caplog.at_level(logging.INFO, logger="triage.edge"):
        answers = requests_of(client)
    for answer in answers:
        assert answer.status_code == 500, answer.text
        assert answer.json() == {"detail": "internal error"}
        assert "Retry-After" not in answer.headers
    assert [r.levelno for r in edge_records(caplog)] == [logging.ERROR, logging.ERROR]
    assert SECRET not in caplog.text


def test_a_database_that_refuses_connections_answers_503_at_once() -> None:
    """Nothing listens where the database should be: psycopg's own connect error."""
    app = app_on(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone")
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            started = time.monotonic()
            sign_in = client.post("/api/auth/token", data={"username": "a", "password": "b"})
            create = client.post(
                "/api/referrals", json=referral_body(), headers={"Authorization": "Bearer x"}
            )
            seconds = time.monotonic() - started
            ready = client.get("/readyz")
            alive = client.get("/healthz")
    finally:
        app.state.engine.dispose()
    for answer in (sign_in, create):
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == str(RETRY_AFTER)
    assert seconds < 2, seconds
    assert ready.status_code == 503 and alive.status_code == 200


def test_a_database_that_never_answers_fails_within_the_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A listener that takes the connection and never speaks (a hung server, a black hole):
    without a connect timeout psycopg would wait 130 s; with one, 503 once it passes."""
    monkeypatch.setattr(db, "CONNECT_TIMEOUT", 2)  # the least libpq takes; deployed: 5
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        app = app_on(f"postgresql+psycopg://postgres@127.0.0.1:{port}/silent")
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                started = time.monotonic()
                answer = client.get("/api/referrals", headers={"Authorization": "Bearer x"})
                seconds = time.monotonic() - started
        finally:
            app.state.engine.dispose()
    assert answer.status_code == 503, answer.text
    assert 1.9 < seconds < 5, seconds


@pytest.fixture
def postgres_app() -> Iterator[tuple[TestClient, str]]:
    """An app on a fresh, migrated PostgreSQL database of its own (its connections are
    ended by the test, so no other test's may share it), with an intake user signed in."""
    url = create_postgres()
    try:
        upgrade(url)
        app = app_on(url)
        with transaction(app.state.session_factory) as session:
            add_user(
                session,
                username="feed",
                password=PASSWORD,
                role=Role.intake,
                provider_code=None,
                now=datetime.now(UTC),
            )
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                answer = client.post(
                    "/api/auth/token", data={"username": "feed", "password": PASSWORD}
                )
                assert answer.status_code == 200, answer.text
                client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
                yield client, url
        finally:
            app.state.engine.dispose()
    finally:
        drop_postgres(url)


def test_pooled_connections_the_server_ended_fail_one_request_then_it_recovers(
    postgres_app: tuple[TestClient, str], caplog: pytest.LogCaptureFixture
) -> None:
    """What a PostgreSQL restart leaves in an idle process's pool: connections the server
    has ended. Without pre-ping the first request to meet one answers 503; SQLAlchemy then
    drops every connection opened before it, so the next request (the client's retry with
    the same Idempotency-Key among them) gets a new one."""
    client, url = postgres_app
    engine = client.app.state.engine
    held = [engine.connect() for _ in range(4)]
    for connection in held:
        connection.execute(text("SELECT 1"))
    for connection in held:
        connection.close()
    assert engine.pool.checkedin() >= 4
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
            (database_name(url),),
        ).fetchone()
    assert ended is not None and ended[0] >= 4
    statuses = []
    first_key = f"restart-{uuid.uuid4().hex}"
    body = referral_body(external_ref=None)
    with caplog.at_level(logging.WARNING, logger="triage.edge"):
        for number in range(6):
            key = first_key if number < 2 else f"restart-{uuid.uuid4().hex}"
            answer = client.post(
                "/api/referrals",
                json=body if number < 2 else referral_body(external_ref=None),
                headers={"Idempotency-Key": key},
            )
            statuses.append(answer.status_code)
        ready = client.get("/readyz")
    assert statuses == [503, 201, 201, 201, 201, 201], statuses
    assert ready.status_code == 200
    assert "connection lost" in caplog.text
    with engine.connect() as connection:
        kept = connection.execute(
            text("SELECT count(*) FROM referrals WHERE idempotency_key = :key"), {"key": first_key}
        ).scalar_one()
    assert kept == 1
