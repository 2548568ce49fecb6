"""Sign-in throttling (DESIGN 12): after 5 failures in 15 minutes for a username, or from
one address, sign-in answers 429 with Retry-After, even with the right password, until the
window has passed; the failures are kept in the database, so every replica agrees."""

import os
import threading
import time
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from tests.support import PASSWORD, FakeClock
from tests.web.browser import PAGE_BASE, forms_of, text_of
from triage.auth.models import SignInFailure
from triage.auth.service import add_user
from triage.db import transaction
from triage.lifecycle.codes import Role


def user(session_factory: Any, clock: FakeClock) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    with transaction(session_factory) as session:
        add_user(session, username=name, password=PASSWORD, role=Role.triage,
                 provider_code=None, now=clock())  # fmt: skip
    return name


def token(client: TestClient, username: str, password: str) -> Any:
    return client.post("/api/auth/token", data={"username": username, "password": password})


def test_five_failures_lock_the_username_then_the_window_passes(
    client: TestClient, session_factory: Any, clock: FakeClock
) -> None:
    name = user(session_factory, clock)
    for _ in range(5):
        assert token(client, name, "wrong-password").status_code == 401
    locked = token(client, name, PASSWORD)  # the right password, during the lockout
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert "too many failed sign-ins" in locked.json()["detail"]
    clock.advance(minutes=15, seconds=1)
    assert token(client, name, PASSWORD).status_code == 200


def test_the_failures_outlive_the_failed_request(
    client: TestClient, session_factory: Any, clock: FakeClock
) -> None:
    name = user(session_factory, clock)
    token(client, name, "wrong-password")
    with session_factory() as session:
        kept = session.scalar(select(func.count()).select_from(SignInFailure))
    assert kept == 1


def test_a_success_clears_the_usernames_failures(
    client: TestClient, session_factory: Any, clock: FakeClock
) -> None:
    name = user(session_factory, clock)
    for _ in range(4):
        token(client, name, "wrong-password")
    assert token(client, name, PASSWORD).status_code == 200
    assert token(client, name, "wrong-password").status_code == 401  # counting from 0 again


def test_one_address_trying_many_usernames_is_locked_after_20(
    client: TestClient, session_factory: Any, clock: FakeClock
) -> None:
    # 20, not 5: a whole triage unit may sit behind one address, and its typos add up.
    for n in range(19):
        assert token(client, f"nobody-{n}", "wrong-password").status_code == 401
    name = user(session_factory, clock)
    assert token(client, name, "wrong-password").status_code == 401  # the 20th
    assert token(client, name, PASSWORD).status_code == 429
    other = user(session_factory, clock)  # never failed itself: locked by its address
    assert token(client, other, PASSWORD).status_code == 429


def test_password_checks_at_once_are_bounded(
    client: TestClient, session_factory: Any, clock: FakeClock
) -> None:
    name = user(session_factory, clock)
    gate = client.app.state.sign_in_gate  # type: ignore[attr-defined]
    gate.wait = 0.05
    slots = client.portal.call(gate.slots_here)
    holders = [object() for _ in range(int(slots.total_tokens))]
    for holder in holders:  # every slot busy, as if other sign-ins were being checked
        client.portal.call(slots.acquire_on_behalf_of, holder)
    try:
        busy = token(client, name, PASSWORD)
    finally:
        for holder in holders:
            client.portal.call(slots.release_on_behalf_of, holder)
    assert busy.status_code == 429 and "Retry-After" in busy.headers
    assert "too many sign-ins at once" in busy.json()["detail"]
    assert token(client, name, PASSWORD).status_code == 200


def test_a_lockout_is_then_refused_from_memory_without_reading_the_database(
    client: TestClient, session_factory: Any, clock: FakeClock
) -> None:
    name = user(session_factory, clock)
    for _ in range(5):
        token(client, name, "wrong-password")
    assert token(client, name, PASSWORD).status_code == 429  # the database says so
    with session_factory() as session:  # another replica's clean-up: this one remembers
        session.execute(delete(SignInFailure))
        session.commit()
    again = token(client, name, PASSWORD)
    assert again.status_code == 429
    assert 0 < int(again.headers["Retry-After"]) <= 15 * 60
    clock.advance(minutes=15, seconds=1)  # the lockout ends in memory as in the database
    assert token(client, name, PASSWORD).status_code == 200


def test_a_refusal_is_held_before_it_is_answered(
    client: TestClient, session_factory: Any, clock: FakeClock
) -> None:
    gate = client.app.state.sign_in_gate  # type: ignore[attr-defined]
    gate.hold = 0.3
    name = user(session_factory, clock)
    for _ in range(5):
        token(client, name, "wrong-password")
    started = time.perf_counter()
    assert token(client, name, PASSWORD).status_code == 429
    assert time.perf_counter() - started >= 0.3  # a tight loop gets about 3 refusals a second


def test_the_password_is_checked_on_a_low_priority_thread(
    client: TestClient, session_factory: Any, clock: FakeClock, monkeypatch: Any
) -> None:
    from triage.auth import gate as gate_module

    seen: list[tuple[str, int]] = []
    verify = gate_module.verify_password

    def watched(password_hash: str | None, password: str) -> bool:
        thread = threading.current_thread().name
        seen.append((thread, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        return verify(password_hash, password)

    monkeypatch.setattr(gate_module, "verify_password", watched)
    name = user(session_factory, clock)
    assert token(client, name, PASSWORD).status_code == 200
    [(thread, nice)] = seen
    assert thread.startswith("password-check") and nice == 19


def test_the_sign_in_page_says_so(
    client: TestClient, session_factory: Any, clock: FakeClock
) -> None:
    name = user(session_factory, clock)
    page = TestClient(client.app, base_url=PAGE_BASE, follow_redirects=False)
    for _ in range(6):
        form = forms_of(page.get("/sign-in").text)[0]
        answer = page.post("/sign-in", data={**form.fields, "username": name,
                                             "password": "wrong-password"})  # fmt: skip
    assert answer.status_code == 429
    assert "Too many failed sign-ins" in text_of(answer.text)
    assert "Retry-After" in answer.headers


def test_a_check_slot_rests_after_its_check_so_a_flood_takes_part_of_a_core(
    client: TestClient, session_factory: Any, clock: FakeClock, monkeypatch: Any
) -> None:
    from triage.auth import gate as gate_module

    verify = gate_module.verify_password

    def slow(password_hash: str | None, password: str) -> bool:
        time.sleep(0.3)  # a check that takes 0.3 s
        return verify(password_hash, password)

    monkeypatch.setattr(gate_module, "verify_password", slow)
    gate = client.app.state.sign_in_gate  # type: ignore[attr-defined]
    gate.rest = 2.0
    name = user(session_factory, clock)
    assert token(client, name, PASSWORD).status_code == 200  # answered without the rest
    slots = client.portal.call(gate.slots_here)
    assert slots.borrowed_tokens == slots.total_tokens  # resting: about 0.6 s more
    deadline = time.monotonic() + 5
    while slots.borrowed_tokens:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_hash_made_at_other_costs_is_made_again_on_sign_in(
    client: TestClient, session_factory: Any, clock: FakeClock
) -> None:
    """Passwords hashed before the one-lane parameters (ADR 18) move to them as their users
    sign in: the stored hash changes once, and the password still works."""
    from argon2 import PasswordHasher

    from triage.auth.models import User

    name = user(session_factory, clock)
    older = PasswordHasher(time_cost=1, memory_cost=16, parallelism=2).hash(PASSWORD)
    with transaction(session_factory) as session:
        session.scalars(select(User).where(User.username == name)).one().password_hash = older
    assert token(client, name, PASSWORD).status_code == 200
    with session_factory() as session:
        now_stored = session.scalars(select(User.password_hash).where(User.username == name)).one()
    assert now_stored != older and "p=1" in now_stored
    assert token(client, name, PASSWORD).status_code == 200
    with session_factory() as session:
        again = session.scalars(select(User.password_hash).where(User.username == name)).one()
    assert again == now_stored  # made once, not at every sign-in
