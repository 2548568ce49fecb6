"""Firing events: `allowed_events` in every answer, who fires what, closure reasons."""

import pytest

from tests.api.flows import assessing, conflict, contacting, held, offered, ok
from tests.support import Api

REFERRAL_KEYS = {"state", "version", "allowed_events"}


class TestAllowedEvents:
    def test_after_create_triage_may_contact_or_close(self, triage: Api) -> None:
        ref = triage.create()
        assert ref["allowed_events"] == ["log_contact_attempt", "contact_made", "close"]

    def test_while_contacting_triage_may_try_again_make_contact_or_close(self, triage: Api) -> None:
        ref = contacting(triage)
        assert ref["allowed_events"] == ["log_contact_attempt", "contact_made", "close"]

    def test_before_a_complete_assessment_triage_may_only_close(self, triage: Api) -> None:
        ref = assessing(triage, assess=False)
        assert ref["allowed_events"] == ["close"]

    def test_a_complete_assessment_lets_triage_route(self, triage: Api) -> None:
        ref = assessing(triage)
        assert ref["allowed_events"] == ["route", "close"]

    def test_while_awaiting_a_provider_triage_may_only_close(self, triage: Api) -> None:
        ref = offered(triage)
        assert ref["allowed_events"] == ["close"]

    def test_the_offered_provider_may_accept_or_decline(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        got = ok(worker.get(f"/api/referrals/{ref['id']}"))
        assert got["allowed_events"] == ["accept", "decline"]

    def test_the_holding_provider_may_hand_back_or_close(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = held(triage, worker)
        assert ref["allowed_events"] == ["hand_back", "close"]
        assert ok(triage.get(f"/api/referrals/{ref['id']}"))["allowed_events"] == ["close"]

    def test_a_closed_referral_allows_nothing(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = held(triage, worker)
        ref = ok(worker.event(ref["id"], "close", ref["version"], reason="disengaged"))
        assert ref["allowed_events"] == []
        assert ok(triage.get(f"/api/referrals/{ref['id']}"))["allowed_events"] == []
        assert ok(worker.get(f"/api/referrals/{ref['id']}"))["allowed_events"] == []

    def test_every_answer_that_is_a_referral_carries_state_version_and_allowed_events(
        self, triage: Api
    ) -> None:
        ref = triage.create()
        answers = [ref]
        answers.append(ok(triage.get(f"/api/referrals/{ref['id']}")))
        answers.append(ok(triage.event(ref["id"], "contact_made", 1, channel="phone")))
        answers.append(ok(triage.assess(ref["id"], 2)))
        answers.append(
            ok(
                triage.put(
                    f"/api/referrals/{ref['id']}/consent",
                    {"version": 3, "share_with_provider": True, "method": "written"},
                )
            )
        )
        for answer in answers:
            assert set(answer) >= REFERRAL_KEYS, answer
        assert [a["version"] for a in answers] == [1, 1, 2, 3, 4]


class TestWhoFiresWhat:
    @pytest.mark.parametrize("event", ["log_contact_attempt", "contact_made", "route"])
    def test_a_provider_may_not_fire_a_triage_event(self, triage: Api, sign_in, event: str) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        answer = worker.event(ref["id"], event, ref["version"], channel="phone")
        assert answer.status_code == 403, answer.text

    def test_nobody_fires_expire_over_http(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        for caller in (triage, worker, sign_in("admin")):
            answer = caller.event(ref["id"], "expire", ref["version"])
            assert answer.status_code == 403, answer.text
        after = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert (after["state"], after["version"]) == ("awaiting_provider", ref["version"])

    def test_the_service_only_consent_withdrawn_event_cannot_be_fired_over_http(
        self, triage: Api
    ) -> None:
        ref = offered(triage)
        answer = triage.event(ref["id"], "consent_withdrawn", ref["version"])
        assert answer.status_code == 403, answer.text

    def test_a_provider_may_not_close_an_offer_it_has_not_accepted(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        detail = conflict(worker.event(ref["id"], "close", ref["version"], reason="withdrawn"))
        assert detail["allowed_events"] == ["accept", "decline"]


class TestClosureReasons:
    def test_support_completed_is_refused_before_support(self, triage: Api) -> None:
        ref = assessing(triage)
        detail = conflict(
            triage.event(
                ref["id"],
                "close",
                ref["version"],
                reason="support_completed",
                outcomes={"feel_safer": True},
            )
        )
        assert detail["failed"] == ["closure_reason_not_allowed"]

    def test_a_before_support_reason_is_refused_in_support(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = held(triage, worker)
        detail = conflict(worker.event(ref["id"], "close", ref["version"], reason="duplicate"))
        assert detail["failed"] == ["closure_reason_not_allowed"]
        assert detail["state"] == "in_support"

    @pytest.mark.parametrize(
        "reason", ["victim_declined", "unsafe_to_contact", "not_eligible", "information_only"]
    )
    def test_before_support_reasons_close_an_open_referral(self, triage: Api, reason: str) -> None:
        ref = triage.create()
        ref = ok(triage.event(ref["id"], "close", 1, reason=reason))
        assert (ref["state"], ref["closure_reason"]) == ("closed", reason)


class TestAClosedReferral:
    def test_never_reopens(self, triage: Api) -> None:
        ref = triage.create()
        ref = ok(triage.event(ref["id"], "close", 1, reason="duplicate"))
        for event, fields in [
            ("log_contact_attempt", {"channel": "phone", "outcome": "no_answer"}),
            ("contact_made", {"channel": "phone"}),
            ("route", {"provider": "core-general"}),
            ("close", {"reason": "withdrawn"}),
        ]:
            detail = conflict(triage.event(ref["id"], event, ref["version"], **fields))
            assert detail["failed"] == ["not_allowed_in_state"], event
            assert (detail["state"], detail["version"], detail["allowed_events"]) == (
                "closed",
                2,
                [],
            )

    def test_its_assessment_and_consent_can_no_longer_change(self, triage: Api) -> None:
        ref = assessing(triage)
        ref = ok(triage.event(ref["id"], "close", ref["version"], reason="withdrawn"))
        conflict(triage.assess(ref["id"], ref["version"]))
        conflict(
            triage.put(
                f"/api/referrals/{ref['id']}/consent",
                {"version": ref["version"], "share_with_provider": False},
            )
        )
        assert ok(triage.get(f"/api/referrals/{ref['id']}"))["version"] == ref["version"]


class TestTheAnswerOfAnEvent:
    def test_shows_the_contact_attempt_it_has_just_logged(self, triage: Api) -> None:
        ref = triage.create()
        ref = ok(
            triage.event(ref["id"], "log_contact_attempt", 1, channel="sms", outcome="message_sent")
        )
        assert [a["outcome"] for a in ref["contact_attempts"]] == ["message_sent"]
