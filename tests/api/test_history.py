"""The audit log: one event per transition, per read and per assessment change."""

import pytest

from tests.api.flows import actions, audit_rows, conflict, ok
from tests.support import Api

TRANSITIONS = ["create", "log_contact_attempt", "contact_made", "route", "accept", "close"]


def walk(triage: Api, worker: Api) -> tuple[str, list[tuple[str, str, int]]]:
    """The whole path; answers the id and (action, state, version) after each step."""
    ref = triage.create()
    rid = ref["id"]
    steps = [("create", ref["state"], ref["version"])]
    ref = ok(triage.event(rid, "log_contact_attempt", 1, channel="phone", outcome="no_answer"))
    steps.append(("log_contact_attempt", ref["state"], ref["version"]))
    ref = ok(triage.event(rid, "contact_made", 2, channel="phone"))
    steps.append(("contact_made", ref["state"], ref["version"]))
    ref = ok(triage.assess(rid, 3))
    steps.append(("assessment", ref["state"], ref["version"]))
    ref = ok(triage.event(rid, "route", 4, provider="core-general"))
    steps.append(("route", ref["state"], ref["version"]))
    ref = ok(worker.event(rid, "accept", 5))
    steps.append(("accept", ref["state"], ref["version"]))
    ref = ok(
        worker.event(rid, "close", 6, reason="support_completed", outcomes={"satisfied": True})
    )
    steps.append(("close", ref["state"], ref["version"]))
    return rid, steps


class TestTheAuditOfTransitions:
    def test_each_transition_writes_exactly_one_event_with_its_states_and_version(
        self, triage: Api, sign_in, session_factory
    ) -> None:
        worker = sign_in("provider", provider="core-general")
        rid, steps = walk(triage, worker)
        rows = [
            r for r in audit_rows(session_factory, rid) if r.action not in ("read", "vcop_enhanced")
        ]
        assert [(r.action, r.to_state, r.version) for r in rows] == steps
        previous = None
        for row in rows:
            assert row.from_state == previous, row.action
            previous = row.to_state
        by_action = {r.action: r for r in rows}
        assert by_action["accept"].actor_role == "provider"
        assert by_action["route"].actor_role == "triage"
        assert by_action["route"].detail["provider"] == "core-general"
        assert by_action["route"].detail["by_hand"] is True
        assert by_action["close"].detail["reason"] == "support_completed"

    def test_a_refused_event_writes_nothing(self, triage: Api, session_factory) -> None:
        ref = triage.create()
        before = actions(session_factory, ref["id"])
        conflict(triage.event(ref["id"], "route", 1, provider="core-general"))
        conflict(triage.event(ref["id"], "contact_made", 9, channel="phone"))
        triage.event(ref["id"], "accept", 1)
        assert actions(session_factory, ref["id"]) == before


class TestTheAuditOfReads:
    def test_each_read_of_the_detail_writes_one_read_event(
        self, triage: Api, session_factory
    ) -> None:
        ref = triage.create()
        reads = actions(session_factory, ref["id"]).count("read")
        for n in range(1, 4):
            ok(triage.get(f"/api/referrals/{ref['id']}"))
            assert actions(session_factory, ref["id"]).count("read") == reads + n
        row = audit_rows(session_factory, ref["id"])[-1]
        assert (row.action, row.actor_role, row.version) == ("read", "triage", 1)
        assert row.from_state is None and row.to_state is None

    def test_a_providers_read_is_audited_under_its_own_name(
        self, triage: Api, sign_in, session_factory
    ) -> None:
        worker = sign_in("provider", provider="core-general", username="reader-at-core")
        ref = triage.create()
        ref = ok(triage.event(ref["id"], "contact_made", 1, channel="phone"))
        ref = ok(triage.assess(ref["id"], 2))
        ref = ok(triage.event(ref["id"], "route", 3, provider="core-general"))
        ok(worker.get(f"/api/referrals/{ref['id']}"))
        row = audit_rows(session_factory, ref["id"])[-1]
        assert (row.action, row.actor_name, row.actor_role) == (
            "read",
            "reader-at-core",
            "provider",
        )

    def test_a_refused_read_writes_nothing(self, triage: Api, sign_in, session_factory) -> None:
        other = sign_in("provider", provider="da-idva")
        ref = triage.create()
        before = actions(session_factory, ref["id"])
        assert other.get(f"/api/referrals/{ref['id']}").status_code == 404
        assert sign_in("commissioner").get(f"/api/referrals/{ref['id']}").status_code == 403
        assert actions(session_factory, ref["id"]) == before

    @pytest.mark.parametrize(("path", "action"), [("routing", "read_routing"),
                                                  ("vcop", "read_vcop")])  # fmt: skip
    def test_reads_of_routing_and_the_victims_code_are_audited(
        self, triage: Api, session_factory, path: str, action: str
    ) -> None:
        ref = triage.create()
        ok(triage.get(f"/api/referrals/{ref['id']}/{path}"))
        row = audit_rows(session_factory, ref["id"])[-1]
        assert (row.action, row.actor_role, row.version) == (action, "triage", 1)

    def test_a_list_that_shows_names_audits_one_read_per_referral_shown(
        self, triage: Api, session_factory
    ) -> None:
        refs = [triage.create() for _ in range(3)]
        listed = ok(triage.get("/api/referrals", params={"limit": 2}))
        shown = {item["id"] for item in listed["items"]}
        assert len(shown) == 2
        for ref in refs:
            count = actions(session_factory, ref["id"]).count("read_list")
            assert count == (1 if ref["id"] in shown else 0)

    def test_a_list_without_names_audits_nothing(
        self, triage: Api, sign_in, session_factory
    ) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = ok(triage.event(triage.create()["id"], "contact_made", 1, channel="phone"))
        ref = ok(triage.assess(ref["id"], 2))
        ref = ok(triage.event(ref["id"], "route", 3, provider="core-general"))
        listed = ok(worker.get("/api/referrals"))  # an open offer: no name shown
        assert ref["id"] in {item["id"] for item in listed["items"]}
        assert "read_list" not in actions(session_factory, ref["id"])


class TestTheHistoryTimeline:
    def test_shows_every_event_oldest_first_with_who_did_it(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        rid, steps = walk(triage, worker)
        answer = ok(triage.get(f"/api/referrals/{rid}/history"))
        assert answer["referral"] == rid
        events = answer["events"]
        changes = [
            (e["action"], e["to_state"], e["version"])
            for e in events
            if e["action"] not in ("read", "vcop_enhanced")
        ]
        assert changes == steps
        assert [e["action"] for e in events].count("vcop_enhanced") == 1  # decided at assessment
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)
        assert {e["role"] for e in events} == {"triage", "provider"}
        assert all(e["actor"] and e["at"] == "2026-11-24T10:00:00Z" for e in events)

    def test_reading_the_history_is_itself_audited(self, triage: Api) -> None:
        ref = triage.create()
        ok(triage.get(f"/api/referrals/{ref['id']}/history"))
        events = ok(triage.get(f"/api/referrals/{ref['id']}/history"))["events"]
        assert [e["action"] for e in events].count("read_history") == 1

    def test_the_holding_provider_reads_the_history_of_its_case(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        rid, steps = walk(triage, worker)
        events = ok(worker.get(f"/api/referrals/{rid}/history"))["events"]
        assert [e["action"] for e in events if e["action"] in TRANSITIONS] == TRANSITIONS
