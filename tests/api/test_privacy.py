"""Erasure and retention (DESIGN 11, issue 16): identity, contact details and free text
removed from a referral and everywhere it was copied; codes, dates, offers and the Victims'
Code log kept, so every report figure is unchanged; one audit line each."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.api.flows import audit_rows, conflict, found_anywhere, held, ok
from tests.support import Api, FakeClock, victim
from triage.referrals.privacy import run_retention
from triage.retention import Period, RetentionRules

PERSON = victim(full_name="Perpetua Winterbottom", phone="07700 900777",
                email="perpetua.w@example.org", address="3 Quarry Lane, Matlock",
                postcode="DE4 3AB", safe_times="after 6pm, never weekends")  # fmt: skip
NOTES = "Neighbour Barnaby Quist saw the van"
REPORTS = ("/api/reports/conversion", "/api/reports/vcop-compliance", "/api/reports/providers",
           "/api/reports/moj-return?quarter=2026Q4")  # fmt: skip


def removed() -> list[str]:
    return [PERSON[k] for k in ("full_name", "phone", "email", "address", "postcode",
                                "safe_times")] + [NOTES, "1990-04-02"]  # fmt: skip


def figures(reader: Api) -> list[Any]:
    out = []
    for path in REPORTS:
        answer = ok(reader.get(path))
        answer.pop("as_of", None)
        out.append(answer)
    return out


@pytest.fixture
def closed(triage: Api, sign_in: Any) -> dict[str, Any]:
    """Held by core-general, then closed by it with a note: every free text field set."""
    worker = sign_in("provider", provider="core-general")
    ref = held(triage, worker, victim=PERSON, notes=NOTES)
    return ok(worker.event(ref["id"], "close", ref["version"], reason="support_completed",
                           outcomes={"feel_safer": True}, note=f"{NOTES}; all done"))  # fmt: skip


def test_an_admin_erases_a_closed_referral_everywhere(
    closed: dict[str, Any], triage: Api, sign_in: Any, session_factory: sessionmaker[Session]
) -> None:
    admin, reader = sign_in("admin"), sign_in("commissioner")
    assert found_anywhere(session_factory, removed())  # held before
    before = figures(reader)
    erased = ok(
        admin.post(
            f"/api/referrals/{closed['id']}/erase",
            {"version": closed["version"], "reason": f"erasure request by {PERSON['full_name']}"},
        )
    )
    assert erased["version"] == closed["version"] + 1 and erased["anonymised_at"]
    assert found_anywhere(session_factory, removed()) == []
    assert figures(reader) == before
    detail = ok(triage.get(f"/api/referrals/{closed['id']}"))
    assert detail["anonymised"] is True and detail["victim"]["full_name"] == "anonymised"
    assert detail["victim"]["phone"] is None and detail["notes"] is None
    assert detail["state"] == "closed" and detail["offers"][0]["answer"] == "accepted"
    [line] = [r for r in audit_rows(session_factory, closed["id"]) if r.action == "anonymised"]
    assert line.detail == {"how": "erasure", "reason": "erasure request by [removed]"}
    assert line.actor_role == "admin"


def test_erasure_is_refused_naming_why(triage: Api, sign_in: Any, closed: dict[str, Any]) -> None:
    admin = sign_in("admin")
    path = f"/api/referrals/{closed['id']}/erase"
    assert triage.post(path, {"version": 1, "reason": "x"}).status_code == 403
    assert admin.post("/api/referrals/00000000-0000-4000-8000-000000000000/erase",
                      {"version": 1, "reason": "x"}).status_code == 404  # fmt: skip
    assert admin.post(path, {"version": closed["version"]}).status_code == 422
    assert conflict(admin.post(path, {"version": 1, "reason": "x"}))["failed"] == [
        "stale_version"]  # fmt: skip
    open_ = triage.create()
    answer = admin.post(f"/api/referrals/{open_['id']}/erase", {"version": 1, "reason": "x"})
    assert conflict(answer)["failed"] == ["not_closed"]
    ok(admin.post(path, {"version": closed["version"], "reason": "asked"}))
    again = admin.post(path, {"version": closed["version"] + 1, "reason": "asked"})
    assert conflict(again)["failed"] == ["already_anonymised"]


def test_retention_anonymises_exactly_what_is_past_its_period(
    triage: Api, sign_in: Any, clock: FakeClock, session_factory: sessionmaker[Session]
) -> None:
    rules = RetentionRules(version="t", default_months=12, periods=[
        Period(id="duplicates", closure_reasons=["duplicate"], months=1)])  # fmt: skip
    dup = triage.create(victim=victim(full_name="Dorian Duplicate"))
    ok(triage.event(dup["id"], "close", dup["version"], reason="duplicate"))
    kept = triage.create(victim=victim(full_name="Wilhelmina Withdrawn"))
    ok(triage.event(kept["id"], "close", kept["version"], reason="withdrawn"))
    still_open = triage.create(victim=victim(full_name="Ophelia Open"))
    in_40_days = clock() + timedelta(days=40)

    dry = run_retention(session_factory, retention=rules, as_of=in_40_days, now=clock(),
                        dry_run=True)  # fmt: skip
    assert dry.references == [dup["reference"]] and dry.by_period == {"duplicates": 1}
    assert found_anywhere(session_factory, ["Dorian Duplicate"])  # a dry run changes nothing

    done = run_retention(session_factory, retention=rules, as_of=in_40_days, now=clock())
    assert done.anonymised == 1 and done.by_period == {"duplicates": 1}
    assert found_anywhere(session_factory, ["Dorian Duplicate"]) == []
    assert found_anywhere(session_factory, ["Wilhelmina Withdrawn", "Ophelia Open"])
    again = run_retention(session_factory, retention=rules, as_of=in_40_days, now=clock())
    assert again.anonymised == 0
    a_year_on = clock() + timedelta(days=370)
    later = run_retention(session_factory, retention=rules, as_of=a_year_on, now=clock())
    assert later.by_period == {"default": 1}
    assert found_anywhere(session_factory, ["Wilhelmina Withdrawn"]) == []
    assert ok(triage.get(f"/api/referrals/{still_open['id']}"))["anonymised"] is False
    [line] = [r for r in audit_rows(session_factory, dup["id"]) if r.action == "anonymised"]
    assert line.detail == {"how": "retention", "period": "duplicates"}
    assert line.actor_role == "system"


def test_a_lockdown_reason_is_free_text_and_goes_too(
    triage: Api, sign_in: Any, session_factory: sessionmaker[Session]
) -> None:
    ref = triage.create(victim=victim(full_name="Leopold Lockwood"))
    ok(
        triage.put(
            f"/api/referrals/{ref['id']}/lockdown",
            {"version": ref["version"], "users": [], "reason": "his sister works on the unit"},
        )
    )
    ok(triage.event(ref["id"], "close", ref["version"], reason="withdrawn"))
    run_retention(session_factory, retention=RetentionRules(version="t", default_months=1),
                  as_of=datetime.now(UTC) + timedelta(days=400), now=datetime.now(UTC))  # fmt: skip
    assert found_anywhere(session_factory, ["Leopold Lockwood", "sister works"]) == []
