"""The lifecycle through the API: the whole path, decline, hand-back and closing (DESIGN 3)."""

from tests.api.flows import conflict, held, offered, ok
from tests.support import Api


def attempt(triage: Api, ref: dict, **fields: str) -> dict:
    """Log one unanswered phone call."""
    answer = triage.event(
        ref["id"],
        "log_contact_attempt",
        ref["version"],
        channel="phone",
        outcome="no_answer",
        **fields,
    )
    return ok(answer)


class TestTheWholePath:
    def test_a_referral_walks_from_received_to_closed_through_every_state(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="sv-adult")
        ref = triage.create(crime_type="sexual_offence")
        rid = ref["id"]
        assert (ref["state"], ref["version"]) == ("received", 1)

        ref = ok(
            triage.event(rid, "log_contact_attempt", 1, channel="phone", outcome="voicemail_left")
        )
        assert (ref["state"], ref["version"]) == ("contacting", 2)

        ref = ok(triage.event(rid, "contact_made", 2, channel="phone"))
        assert (ref["state"], ref["version"]) == ("assessing", 3)

        ref = ok(triage.assess(rid, 3))
        assert (ref["state"], ref["version"]) == ("assessing", 4)
        assert ref["assessment"]["complete"] is True

        ref = ok(triage.event(rid, "route", 4, provider="sv-adult"))
        assert (ref["state"], ref["version"]) == ("awaiting_provider", 5)
        assert ref["offers"][0]["provider"] == "sv-adult"
        assert ref["offers"][0]["answer"] is None
        assert ref["deadlines"]["respond_by"] is not None

        ref = ok(worker.event(rid, "accept", 5))
        assert (ref["state"], ref["version"]) == ("in_support", 6)
        assert ref["provider"] == "sv-adult"
        assert ref["offers"][0]["answer"] == "accepted"

        ref = ok(
            worker.event(
                rid,
                "close",
                6,
                reason="support_completed",
                outcomes={"better_able_to_cope": True, "feel_safer": False},
            )
        )
        assert (ref["state"], ref["version"]) == ("closed", 7)
        assert ref["closure_reason"] == "support_completed"
        assert ref["outcomes"] == {"better_able_to_cope": True, "feel_safer": False}
        assert ref["closed_at"] is not None
        assert ref["allowed_events"] == []

    def test_the_triage_unit_can_close_a_case_in_support(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = held(triage, worker)
        ref = ok(triage.event(ref["id"], "close", ref["version"], reason="moved_away"))
        assert ref["state"] == "closed"

    def test_contact_can_be_made_straight_from_received(self, triage: Api) -> None:
        ref = triage.create()
        ref = ok(triage.event(ref["id"], "contact_made", 1, channel="in_person"))
        assert ref["state"] == "assessing"

    def test_each_further_contact_attempt_keeps_the_referral_contacting(self, triage: Api) -> None:
        ref = triage.create()
        for outcome in ("no_answer", "voicemail_left", "message_sent"):
            ref = ok(
                triage.event(
                    ref["id"], "log_contact_attempt", ref["version"], channel="sms", outcome=outcome
                )
            )
            assert ref["state"] == "contacting"
        assert ref["version"] == 4
        got = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert [a["outcome"] for a in got["contact_attempts"]] == [
            "no_answer",
            "voicemail_left",
            "message_sent",
        ]


class TestDecline:
    def test_a_decline_with_a_coded_reason_sends_the_referral_back_to_assessing(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        ref = ok(worker.event(ref["id"], "decline", ref["version"], reason="no_capacity"))
        assert ref["state"] == "assessing"
        after = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert after["offers"][0]["answer"] == "declined"
        assert after["offers"][0]["reason"] == "no_capacity"
        assert after["deadlines"]["respond_by"] is None
        assert after["allowed_events"] == ["route", "close"]

    def test_a_decline_for_another_reason_carries_its_note(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        answer = worker.event(
            ref["id"], "decline", ref["version"], reason="other", note="victim moved to Leeds"
        )
        assert ok(answer)["state"] == "assessing"

    def test_the_declined_provider_is_refused_when_offered_the_referral_again(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        ref = ok(worker.event(ref["id"], "decline", ref["version"], reason="outside_area"))
        detail = conflict(triage.event(ref["id"], "route", ref["version"], provider="core-general"))
        assert detail["failed"] == ["already_declined"]
        assert detail["state"] == "assessing"
        assert detail["version"] == ref["version"]

    def test_the_referral_can_then_be_routed_to_another_provider(
        self, triage: Api, sign_in
    ) -> None:
        first = sign_in("provider", provider="core-general")
        second = sign_in("provider", provider="hate-crime")
        ref = offered(triage, "core-general")
        ref = ok(first.event(ref["id"], "decline", ref["version"], reason="no_capacity"))
        ref = ok(triage.event(ref["id"], "route", ref["version"], provider="hate-crime"))
        assert ref["state"] == "awaiting_provider"
        assert [(o["provider"], o["answer"]) for o in ref["offers"]] == [
            ("core-general", "declined"),
            ("hate-crime", None),
        ]
        ref = ok(second.event(ref["id"], "accept", ref["version"]))
        assert ref["state"] == "in_support"
        assert ref["provider"] == "hate-crime"


class TestHandBack:
    def test_hand_back_returns_the_referral_to_assessing(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = held(triage, worker)
        ref = ok(
            worker.event(ref["id"], "hand_back", ref["version"], reason="victim_declined_provider")
        )
        assert ref["state"] == "assessing"
        after = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert after["provider"] is None
        assert after["offers"][0]["handed_back_at"] is not None
        assert after["offers"][0]["hand_back_reason"] == "victim_declined_provider"

    def test_after_handing_back_the_provider_no_longer_sees_the_referral(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = held(triage, worker)
        ok(worker.event(ref["id"], "hand_back", ref["version"], reason="unsafe_to_contact"))
        assert worker.get(f"/api/referrals/{ref['id']}").status_code == 404
        assert worker.get(f"/api/referrals/{ref['id']}/history").status_code == 404
        assert worker.get("/api/referrals").json()["total"] == 0

    def test_the_provider_that_handed_back_is_not_offered_the_referral_again(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = held(triage, worker)
        ref = ok(worker.event(ref["id"], "hand_back", ref["version"], reason="no_capacity"))
        detail = conflict(triage.event(ref["id"], "route", ref["version"], provider="core-general"))
        assert detail["failed"] == ["already_declined"]
        ref = ok(triage.event(ref["id"], "route", ref["version"], provider="young-people"))
        assert ref["state"] == "awaiting_provider"


class TestCloseWhileAwaitingAProvider:
    def test_closing_withdraws_the_open_offer(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        ref = ok(triage.event(ref["id"], "close", ref["version"], reason="victim_declined"))
        assert ref["state"] == "closed"
        assert ref["offers"][0]["answer"] == "withdrawn"
        assert ref["deadlines"]["respond_by"] is None
        assert worker.get(f"/api/referrals/{ref['id']}").status_code == 404
        assert worker.get("/api/referrals").json()["total"] == 0


class TestCloseAsUncontactable:
    def test_it_is_refused_without_enough_contact_attempts(self, triage: Api) -> None:
        ref = triage.create()
        detail = conflict(triage.event(ref["id"], "close", 1, reason="uncontactable"))
        assert detail["failed"] == ["too_few_contact_attempts"]
        assert detail["state"] == "received"

    def test_three_attempts_on_one_day_are_not_enough(self, triage: Api, clock) -> None:
        ref = triage.create()
        for _ in range(3):
            clock.advance(hours=1)
            ref = attempt(triage, ref)
        detail = conflict(triage.event(ref["id"], "close", ref["version"], reason="uncontactable"))
        assert detail["failed"] == ["too_few_contact_attempts"]

    def test_two_attempts_on_two_days_are_not_enough(self, sign_in, clock) -> None:
        clock.advance(hours=12)  # 22:00 in London, so midnight falls within a token's life
        triage = sign_in("triage")
        ref = triage.create()
        for hours in (0, 3):
            clock.advance(hours=hours)
            ref = attempt(triage, ref)
        detail = conflict(triage.event(ref["id"], "close", ref["version"], reason="uncontactable"))
        assert detail["failed"] == ["too_few_contact_attempts"]

    def test_three_attempts_over_two_days_given_with_at_let_it_close(self, sign_in, clock) -> None:
        clock.advance(hours=12)
        triage = sign_in("triage")
        ref = triage.create()  # received 2026-11-24 22:00 London time
        clock.advance(hours=4)
        for at in ("2026-11-24T22:15:00Z", "2026-11-24T23:30:00Z", "2026-11-25T01:45:00Z"):
            ref = attempt(triage, ref, at=at)
        got = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert [a["at"] for a in got["contact_attempts"]] == [
            "2026-11-24T22:15:00Z",
            "2026-11-24T23:30:00Z",
            "2026-11-25T01:45:00Z",
        ]
        ref = ok(triage.event(ref["id"], "close", ref["version"], reason="uncontactable"))
        assert ref["state"] == "closed"
        assert ref["closure_reason"] == "uncontactable"

    def test_three_attempts_over_two_days_as_the_clock_moves_let_it_close(
        self, sign_in, clock
    ) -> None:
        clock.advance(hours=12)
        triage = sign_in("triage")
        ref = triage.create()
        for hours in (0, 1, 2):
            clock.advance(hours=hours)
            ref = attempt(triage, ref)
        ref = ok(triage.event(ref["id"], "close", ref["version"], reason="uncontactable"))
        assert ref["state"] == "closed"

    def test_a_successful_contact_does_not_count_as_an_attempt(self, sign_in, clock) -> None:
        clock.advance(hours=12)
        triage = sign_in("triage")
        ref = triage.create()
        ref = attempt(triage, ref)
        clock.advance(hours=3)
        ref = attempt(triage, ref)
        ref = ok(triage.event(ref["id"], "contact_made", ref["version"], channel="phone"))
        detail = conflict(triage.event(ref["id"], "close", ref["version"], reason="uncontactable"))
        assert detail["failed"] == ["too_few_contact_attempts"]
