"""Two workers of the offered provider accept the same offer at the same moment (issue 3).

Exactly one accept may win: one 200, one 409 (`stale_version`), one `accept` audit event,
one accepted offer. Three angles:

- over HTTP, on PostgreSQL: the app served by uvicorn in a background thread, two threads
  with their own HTTP connections, released together by a barrier, round after round;
- the same over HTTP on SQLite, where writers queue for the single connection;
- in the service layer, on PostgreSQL, without the row lock the HTTP path takes: two
  sessions read the same version, a barrier releases both right before the write, and the
  optimistic lock (the `version` column) must stop the second writer.
"""

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx2 as httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support import Api, FakeClock
from triage.app import create_app
from triage.auth.models import User
from triage.caller import Caller
from triage.config import Settings
from triage.db import transaction
from triage.lifecycle.codes import Event, Role
from triage.providers.models import Provider
from triage.referrals.context import load
from triage.referrals.events import EventRefused, apply_event
from triage.referrals.schemas import Accept
from triage.rule_sources import RuleSources

ROUNDS = 5
PROVIDER = "core-general"


@pytest.fixture
def postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks and concurrent writers: PostgreSQL only")


@pytest.fixture
def sqlite_only(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite variant")


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn on a free local port in a background thread."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped before it started"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def referral_awaiting(triage: Api, provider: str) -> tuple[str, int]:
    """A referral offered to `provider`: its id and version."""
    ref = triage.create()
    rid = ref["id"]
    ref = triage.event(rid, "contact_made", ref["version"], channel="phone").json()
    ref = triage.assess(rid, ref["version"]).json()
    answer = triage.event(rid, "route", ref["version"], provider=provider)
    assert answer.status_code == 200, answer.text
    ref = answer.json()
    assert ref["state"] == "awaiting_provider"
    return rid, ref["version"]


@dataclass
class Attempt:
    worker: str
    status: int
    body: Any
    started: float
    ended: float


def race_over_http(base_url: str, rid: str, workers: dict[str, str]) -> list[Attempt]:
    """Each worker reads the referral, then all accept it at once (a barrier releases them)."""
    barrier = threading.Barrier(len(workers))
    attempts: list[Attempt] = []
    errors: list[BaseException] = []

    def work(name: str, token: str) -> None:
        try:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
                read = http.get(f"/api/referrals/{rid}")
                assert read.status_code == 200, read.text
                assert read.json()["allowed_events"] == ["accept", "decline"]
                version = read.json()["version"]
                barrier.wait(timeout=30)
                started = time.monotonic()
                answer = http.post(f"/api/referrals/{rid}/events/accept", json={"version": version})
                attempts.append(
                    Attempt(name, answer.status_code, answer.json(), started, time.monotonic())
                )
        except BaseException as error:  # reported by the main thread
            barrier.abort()
            errors.append(error)

    threads = [threading.Thread(target=work, args=item) for item in workers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not errors, errors
    assert len(attempts) == len(workers)
    return attempts


def check_one_winner(triage: Api, rid: str, version: int, attempts: list[Attempt]) -> str:
    """One 200 and one 409 (stale version), one accept in the audit: answers the winner."""
    statuses = sorted(a.status for a in attempts)
    assert statuses == [200, 409], [(a.worker, a.status, a.body) for a in attempts]
    winner = next(a for a in attempts if a.status == 200)
    loser = next(a for a in attempts if a.status == 409)
    assert winner.body["state"] == "in_support"
    assert winner.body["version"] == version + 1
    assert loser.body["detail"]["failed"] == ["stale_version"], loser.body
    assert loser.body["detail"]["version"] == version + 1
    detail = triage.get(f"/api/referrals/{rid}").json()
    assert (detail["state"], detail["version"]) == ("in_support", version + 1)
    assert [(o["provider"], o["answer"]) for o in detail["offers"]] == [(PROVIDER, "accepted")]
    history = triage.get(f"/api/referrals/{rid}/history").json()["events"]
    accepts = [e for e in history if e["action"] == "accept"]
    assert len(accepts) == 1, accepts
    assert accepts[0]["actor"] == winner.worker
    assert (accepts[0]["from_state"], accepts[0]["to_state"]) == ("awaiting_provider", "in_support")
    return winner.worker


def provider_workers(sign_in: Callable[..., Api], count: int = 2) -> dict[str, str]:
    """`count` signed-in workers of the offered provider: username -> bearer token."""
    workers = {}
    for number in range(1, count + 1):
        name = f"{PROVIDER}-worker{number}-{uuid.uuid4().hex[:6]}"
        api = sign_in("provider", provider=PROVIDER, username=name)
        workers[name] = api.headers["Authorization"].removeprefix("Bearer ")
    return workers


def run_http_rounds(
    settings: Settings, clock: FakeClock, triage: Api, sign_in: Callable[..., Api]
) -> list[list[Attempt]]:
    workers = provider_workers(sign_in)
    app = create_app(settings, clock=clock)
    rounds = []
    try:
        with served(app) as base_url:
            for _ in range(ROUNDS):
                rid, version = referral_awaiting(triage, PROVIDER)
                attempts = race_over_http(base_url, rid, workers)
                check_one_winner(triage, rid, version, attempts)
                rounds.append(attempts)
    finally:
        app.state.engine.dispose()
    return rounds


def overlapped(attempts: list[Attempt]) -> bool:
    first, second = attempts
    return first.started < second.ended and second.started < first.ended


@pytest.mark.usefixtures("postgresql_only")
def test_two_workers_accept_at_once_over_http_postgresql(
    settings: Settings, clock: FakeClock, triage: Api, sign_in: Callable[..., Api]
) -> None:
    rounds = run_http_rounds(settings, clock, triage, sign_in)
    # The barrier releases both requests together: they were in flight at the same time.
    assert any(overlapped(attempts) for attempts in rounds)


@pytest.mark.usefixtures("sqlite_only")
def test_two_workers_accept_at_once_over_http_sqlite(
    settings: Settings, clock: FakeClock, triage: Api, sign_in: Callable[..., Api]
) -> None:
    """On SQLite the writers queue for the one connection: the same single winner."""
    run_http_rounds(settings, clock, triage, sign_in)


def caller_of(session_factory: sessionmaker[Session], username: str) -> Caller:
    with session_factory() as session:
        row = session.execute(
            select(User.id, User.role, User.provider_id, Provider.code)
            .outerjoin(Provider, Provider.id == User.provider_id)
            .where(User.username == username)
        ).one()
    return Caller(
        user_id=row.id,
        username=username,
        role=Role(row.role),
        provider_id=row.provider_id,
        provider_code=row.code,
    )


def race_in_service(
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
    rid: str,
    callers: list[Caller],
) -> dict[str, Any]:
    """Each caller reads the referral in its own session (no row lock) and, once all have
    read it, accepts it: answers each caller's outcome."""
    barrier = threading.Barrier(len(callers))
    outcomes: dict[str, Any] = {}
    rules = RuleSources.from_settings(settings)

    def work(caller: Caller) -> None:
        try:
            with transaction(session_factory) as session:
                context = load(
                    session, caller=caller, referral_id=UUID(rid), rules=rules, settings=settings
                )
                read = context.referral.version
                barrier.wait(timeout=30)  # every caller has read `read`; now all write
                apply_event(
                    session,
                    context=context,
                    caller=caller,
                    event=Event.accept,
                    body=Accept(version=read),
                    now=clock(),
                )
            outcomes[caller.username] = "accepted"
        except EventRefused as refused:
            outcomes[caller.username] = refused.detail
        except BaseException as error:
            barrier.abort()
            outcomes[caller.username] = error

    threads = [threading.Thread(target=work, args=(caller,)) for caller in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    return outcomes


@pytest.mark.usefixtures("postgresql_only")
def test_the_version_stops_a_second_writer_that_read_the_same_version(
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FakeClock,
    triage: Api,
    sign_in: Callable[..., Api],
) -> None:
    """Without the row lock the HTTP path takes, both read version v; the barrier is right
    before the write, and the optimistic lock must refuse the second writer."""
    callers = [caller_of(session_factory, name) for name in provider_workers(sign_in)]
    for _ in range(ROUNDS):
        rid, version = referral_awaiting(triage, PROVIDER)
        outcomes = race_in_service(session_factory, settings, clock, rid, callers)
        assert sorted(map(str, outcomes.values())).count("accepted") == 1, outcomes
        winner = next(name for name, outcome in outcomes.items() if outcome == "accepted")
        (refusal,) = [o for name, o in outcomes.items() if name != winner]
        # Refused by the write itself (the UPDATE matched no row of version v), not by the
        # check before it: the refusal carries the version both had read.
        assert refusal == {
            "state": "awaiting_provider",
            "version": version,
            "allowed_events": [],
            "failed": ["stale_version"],
        }, outcomes
        detail = triage.get(f"/api/referrals/{rid}").json()
        assert (detail["state"], detail["version"]) == ("in_support", version + 1)
        assert [(o["provider"], o["answer"]) for o in detail["offers"]] == [(PROVIDER, "accepted")]
        history = triage.get(f"/api/referrals/{rid}/history").json()["events"]
        accepts = [e for e in history if e["action"] == "accept"]
        assert [e["actor"] for e in accepts] == [winner]
