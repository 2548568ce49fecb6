"""Fixtures: a fresh migrated database per backend per run, the app, signed-in callers.

Every test that asks for `database_url` (directly or through `client`) runs twice: on a
SQLite file and on a PostgreSQL database created for this run and dropped after it.
PostgreSQL is reached at TRIAGE_TEST_PG_ADMIN_URL (default: the machine's local server).

Passwords are hashed at argon2's lowest cost in this process, so signing in costs
milliseconds, not a quarter of a second each; the servers the browser and fault tests start
(tests/e2e, tests/faults) hash as deployed.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from tests.support import PASSWORD, Api, FakeClock
from triage.app import create_app
from triage.auth import passwords
from triage.auth.service import add_user
from triage.config import Settings
from triage.db import Base, make_engine, make_session_factory, transaction
from triage.lifecycle.codes import Role
from triage.migrations import upgrade
from triage.providers.service import sync_directory
from triage.rule_sources import RuleSources

PG_ADMIN_URL = os.environ.get(
    "TRIAGE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


def _postgres_url(admin_url: str, name: str) -> str:
    host_part = admin_url.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+psycopg://{host_part}/{name}"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test, in this process: the hashing is not what they are about."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    dummy = cheap.hash("not-a-real-password")
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: dummy)
    yield


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A freshly migrated database for this test run, on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'triage.db'}"
        upgrade(url)
        yield url
        return
    name = f"triage_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = _postgres_url(PG_ADMIN_URL, name)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on the run's database; every table is emptied after the test."""
    yield make_session_factory(engine)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(text(f"DELETE FROM {table.name}"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Refusals held briefly, not the second a service holds them: the suite has many.
    return Settings(
        database_url=database_url,
        scheduler=False,
        sign_in_refusal_hold_seconds=0.05,
        imports_dir=tmp_path / "imports",
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rules(settings: Settings) -> RuleSources:
    """The rule data the settings name, read once (as the app and each command do)."""
    return RuleSources.from_settings(settings)


@pytest.fixture
def providers(
    session_factory: sessionmaker[Session], rules: RuleSources, clock: FakeClock
) -> list[str]:
    """The demo area's provider directory, loaded; answers the codes."""
    with transaction(session_factory) as session:
        report = sync_directory(session, directory=rules.rule_set.directory, now=clock())
    return report.added


@pytest.fixture
def client(
    settings: Settings, rules: RuleSources, clock: FakeClock, providers: list[str]
) -> Iterator[TestClient]:
    app = create_app(settings, clock=clock, rules=rules)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


SignIn = Callable[..., Api]


@pytest.fixture
def sign_in(client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock) -> SignIn:
    """Add a user with a role (and provider) and answer an Api signed in as them."""

    def _sign_in(role: str, provider: str | None = None, username: str | None = None) -> Api:
        username = username or f"{role}-{uuid.uuid4().hex[:8]}"
        with transaction(session_factory) as session:
            add_user(
                session,
                username=username,
                password=PASSWORD,
                role=Role(role),
                provider_code=provider,
                now=clock(),
            )
        answer = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return Api(client, answer.json()["access_token"])

    return _sign_in


@pytest.fixture
def triage(sign_in: SignIn) -> Api:
    return sign_in("triage")
