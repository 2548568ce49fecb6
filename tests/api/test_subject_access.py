"""Subject access (DESIGN 11, issue 16): everything held about the victim of one referral,
for triage, each request audited with its reason."""

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.api.flows import assessing, audit_rows, ok
from tests.support import Api, victim

PERSON = victim(full_name="Cordelia Ashdown", phone="07700 900456")


def test_everything_held_about_the_victim_in_one_answer(
    triage: Api, sign_in: Any, session_factory: sessionmaker[Session]
) -> None:
    ref = assessing(triage, victim=PERSON, notes="Called from a neighbour's phone")
    ref = ok(triage.put(f"/api/referrals/{ref['id']}/consent",
                        {"version": ref["version"], "share_with_provider": False}))  # fmt: skip
    worker = sign_in("provider", provider="core-general")
    ok(
        triage.put(
            f"/api/referrals/{ref['id']}/consent",
            {"version": ref["version"], "share_with_provider": True, "method": "written"},
        )
    )
    ref = ok(triage.get(f"/api/referrals/{ref['id']}"))
    ref = ok(triage.event(ref["id"], "route", ref["version"], provider="core-general"))
    ok(worker.event(ref["id"], "decline", ref["version"], reason="no_capacity"))

    answer = ok(triage.get(f"/api/referrals/{ref['id']}/subject-access",
                           params={"reason": "request from the victim, 5 Dec"}))  # fmt: skip
    held = answer["referral"]
    assert held["victim"]["full_name"] == "Cordelia Ashdown"
    assert held["victim"]["phone"] == "07700 900456"
    assert held["notes"] == "Called from a neighbour's phone"
    assert [a["made_contact"] for a in held["contact_attempts"]] == [True]
    assert held["assessment"]["needs"] and held["offers"][0]["answer"] == "declined"
    assert [(c["share_with_provider"], c["method"]) for c in answer["consent_history"]] == [
        (True, "verbal"), (False, None), (True, "written")]  # fmt: skip
    assert answer["victims_code"]["rights"] and all(
        r["checks"] for r in answer["victims_code"]["rights"] if r["status"] != "not_tracked"
    )
    actions = [line["action"] for line in answer["timeline"]]
    assert actions[0] == "create" and "decline" in actions and actions[-1] == "subject_access"
    assert answer["timeline"][-1]["detail"] == {"reason": "request from the victim, 5 Dec"}
    assert answer["reason"] == "request from the victim, 5 Dec" and answer["requested_by"]
    [line] = [r for r in audit_rows(session_factory, ref["id"]) if r.action == "subject_access"]
    assert line.detail == {"reason": "request from the victim, 5 Dec"}


def test_only_triage_asks_and_always_says_why(triage: Api, sign_in: Any) -> None:
    ref = triage.create()
    path = f"/api/referrals/{ref['id']}/subject-access"
    for missing in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "a\nb"}):
        assert triage.get(path, params=missing).status_code == 422, missing
    for role in ("provider", "commissioner", "admin", "intake"):
        caller = sign_in(role, provider="core-general" if role == "provider" else None)
        assert caller.get(path, params={"reason": "x"}).status_code == 403, role
