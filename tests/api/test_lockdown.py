"""Lockdown (DESIGN 11, issue 16): a referral locked down to named users answers every other
caller, on every route and page, exactly as a referral that does not exist; reports still
count it; locking and lifting are audited with the reason.

The routes are read from the app itself (tests/api/test_hostile.every_route), so a route
added later is walked without editing this test."""

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.api.flows import actions, audit_rows, conflict, held, names_field, ok
from tests.api.test_hostile import every_route
from tests.support import PASSWORD, Api, FakeClock, referral_body, victim
from tests.web.browser import Person, new_username
from triage.auth.service import add_user
from triage.db import transaction
from triage.deadlines.models import Alert
from triage.lifecycle.codes import Role

NAME = "Imogen Featherstonehaugh"  # the locked-down victim: a name no other test uses
REASON = "the victim works in the triage unit"
ADMIN_OVERSIGHT = {("DELETE", "lockdown"), ("POST", "erase")}


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


def values_for(referral: str, alert: int) -> dict[str, str]:
    return {"referral_id": referral, "event": "contact_made", "alert_id": str(alert),
            "code": "core-general", "job_id": str(uuid.uuid4()), "kind": "conversion",
            "fmt": "csv", "name": "full_name", "username": "nobody"}  # fmt: skip


class Case:
    """A referral held by core-general, locked down to `named` (and `locker`, who locked it),
    with an open alert about it; and a signed-in caller of every role who is not named."""

    def __init__(self, client: TestClient, sign_in: Any, factory: sessionmaker[Session],
                 clock: FakeClock) -> None:  # fmt: skip
        named = new_username("triage")
        self.locker, self.named = sign_in("triage"), sign_in("triage", username=named)
        holder = sign_in("provider", provider="core-general")
        ref = held(self.locker, holder, victim=victim(full_name=NAME))
        self.id, self.reference, self.version = ref["id"], ref["reference"], ref["version"]
        with transaction(factory) as session:
            alert = Alert(key=f"test:{self.id}", kind="contact_overdue",
                          referral_id=uuid.UUID(self.id), due_at=clock() - timedelta(hours=1),
                          raised_at=clock(), detail={})  # fmt: skip
            session.add(alert)
            session.flush()
            self.alert = alert.id
        self.lock = ok(self.locker.put(f"/api/referrals/{self.id}/lockdown", {
            "version": self.version, "users": [named], "reason": REASON}))  # fmt: skip
        self.others: dict[str, Api] = {
            "triage": sign_in("triage"), "provider holding it": holder,
            "other provider": sign_in("provider", provider="da-idva"),
            "admin": sign_in("admin"), "commissioner": sign_in("commissioner"),
            "intake": sign_in("intake"),
        }  # fmt: skip
        self.pages = {
            role: person(client, factory, clock, role, provider)
            for role, provider in (("triage", None), ("provider", "core-general"),
                                   ("admin", None), ("commissioner", None))
        }  # fmt: skip


def person(client: TestClient, factory: sessionmaker[Session], clock: FakeClock, role: str,
           provider: str | None) -> Person:  # fmt: skip
    username = new_username(role)
    with transaction(factory) as session:
        add_user(session, username=username, password=PASSWORD, role=Role(role),
                 provider_code=provider, now=clock())  # fmt: skip
    return Person(client, username)


@pytest.fixture
def case(client: TestClient, sign_in: Any, session_factory: sessionmaker[Session],
         clock: FakeClock) -> Case:  # fmt: skip
    return Case(client, sign_in, session_factory, clock)


def answer(caller: Api | Person, method: str, path: str) -> Any:
    headers = {} if isinstance(caller, Person) else caller.headers
    query = {"version": "1", "reason": "test"} if path.endswith("/lockdown") else None
    body = None if method in ("GET", "DELETE") else {}
    return caller.client.request(method, path, headers=headers, params=query, json=body)


def leaks(text: str, case: Case) -> list[str]:
    return [s for s in (case.id, case.reference, NAME) if s.lower() in text.lower()]


def test_every_route_and_page_answers_others_as_if_it_did_not_exist(
    client: TestClient, case: Case
) -> None:
    routes = every_route(client.app)
    unknown = str(uuid.uuid4())
    walked = 0
    for who, caller in [*case.others.items(), *(("page " + r, p) for r, p in case.pages.items())]:
        is_page = isinstance(caller, Person)
        for method, path in routes:
            if path.startswith("/api/") == is_page or path in ("/sign-in", "/sign-out"):
                continue
            if who == "admin" and (method, path.rsplit("/", 1)[-1]) in ADMIN_OVERSIGHT:
                continue  # an admin lifts any lockdown, erases any closed referral
            if "{referral_id}" in path:
                locked = answer(caller, method, fill(path, values_for(case.id, case.alert)))
                missing = answer(caller, method, fill(path, values_for(unknown, 2_000_000_000)))
                assert locked.status_code == missing.status_code, (who, method, path, locked.text)
                same = locked.text.replace(case.id, "?") == missing.text.replace(unknown, "?")
                assert same or is_page, (who, method, path, locked.text, missing.text)
                assert not leaks(locked.text.replace(case.id, "?"), case), (who, method, path)
                walked += 1
            elif method == "GET" or "{alert_id}" in path:
                found = answer(caller, method, fill(path, values_for(case.id, case.alert)))
                assert not leaks(found.text, case), (who, method, path, leaks(found.text, case))
                if "{alert_id}" in path:
                    missing = answer(caller, method, fill(path, values_for(case.id, 2_000_000_000)))
                    assert found.status_code == missing.status_code, (who, method, path)
                walked += 1
    assert walked > 100


def test_the_named_users_still_read_it_everywhere(case: Case) -> None:
    for caller in (case.locker, case.named):
        detail = ok(caller.get(f"/api/referrals/{case.id}"))
        assert detail["victim"]["full_name"] == NAME
        assert detail["lockdown"]["reason"] == REASON and len(detail["lockdown"]["users"]) == 2
        for part in ("history", "routing", "vcop"):
            ok(caller.get(f"/api/referrals/{case.id}/{part}"))
        listed = ok(caller.get("/api/referrals", params={"reference": case.reference}))
        assert [item["id"] for item in listed["items"]] == [case.id]
        alerts = ok(caller.get("/api/alerts"))
        assert case.alert in [a["id"] for a in alerts["items"]]


def test_lists_leave_it_out_for_others_but_count_it_in_total_nowhere(case: Case) -> None:
    other = case.others["triage"]
    listed = ok(other.get("/api/referrals", params={"reference": case.reference}))
    assert listed == {**listed, "items": [], "total": 0}


def test_reports_still_count_it(case: Case) -> None:
    reader = case.others["commissioner"]
    before = ok(reader.get("/api/reports/conversion"))
    assert before["stages"][0]["count"] != 0  # "<5": counted, suppressed
    lifted = case.locker.delete(
        f"/api/referrals/{case.id}/lockdown", params={"version": case.version, "reason": "lifted"}
    )
    assert lifted.status_code == 204, lifted.text
    assert ok(reader.get("/api/reports/conversion")) == before  # counted while locked down


def test_locking_and_lifting_are_audited_with_the_reason(
    case: Case, session_factory: sessionmaker[Session]
) -> None:
    other = case.others["triage"]
    assert (
        other.delete(
            f"/api/referrals/{case.id}/lockdown", params={"version": case.version, "reason": "x"}
        ).status_code
        == 404
    )
    lifted = case.named.delete(
        f"/api/referrals/{case.id}/lockdown",
        params={"version": case.version, "reason": "case closed"},
    )
    assert lifted.status_code == 204, lifted.text
    assert ok(other.get(f"/api/referrals/{case.id}"))["lockdown"] is None
    rows = {row.action: row for row in audit_rows(session_factory, case.id)}
    assert rows["lockdown"].detail["reason"] == REASON
    assert len(rows["lockdown"].detail["users"]) == 2
    assert rows["lockdown_lifted"].detail == {"reason": "case closed"}
    assert actions(session_factory, case.id).count("lockdown") == 1


def test_an_admin_may_lift_it_and_nobody_lifts_what_is_not_locked(case: Case) -> None:
    admin = case.others["admin"]
    params = {"version": case.version, "reason": "the worker left"}
    assert admin.delete(f"/api/referrals/{case.id}/lockdown", params=params).status_code == 204
    again = admin.delete(f"/api/referrals/{case.id}/lockdown", params=params)
    assert conflict(again)["failed"] == ["not_locked_down"]


def test_bad_lockdowns_are_refused_naming_what_is_wrong(case: Case, sign_in: Any) -> None:
    path = f"/api/referrals/{case.id}/lockdown"
    answer_ = case.locker.put(path, {"version": case.version, "users": ["no-such-user"],
                                     "reason": REASON})  # fmt: skip
    assert names_field(answer_, "users")
    sign_in("commissioner", username="commissioner-x")
    answer_ = case.locker.put(path, {"version": case.version, "users": ["commissioner-x"],
                                     "reason": REASON})  # fmt: skip
    assert names_field(answer_, "users")
    assert names_field(case.locker.put(path, {"version": case.version, "users": []}), "reason")
    assert names_field(case.locker.put(path, {"version": case.version, "users": ["a"] * 51,
                                              "reason": REASON}), "users")  # fmt: skip
    other = new_username("triage")
    sign_in("triage", username=other)
    stale = case.locker.put(path, {"version": case.version + 1, "users": [other],
                                   "reason": REASON})  # fmt: skip
    assert conflict(stale)["failed"] == ["stale_version"]


def test_a_repeat_of_its_creation_tells_others_nothing_about_it(case: Case) -> None:
    other = case.others["triage"]
    detail = ok(case.locker.get(f"/api/referrals/{case.id}"))
    body = referral_body(external_ref=detail["external_ref"], victim=victim(full_name=NAME))
    again = other.post("/api/referrals", body)
    assert again.status_code == 409, again.text
    assert not leaks(again.text, case)
