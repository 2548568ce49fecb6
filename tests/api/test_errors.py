"""Every error status with its body, and the order DESIGN 4 fixes: 401, 403, 404, 422, 409."""

import uuid
from typing import Any

import pytest

from tests.api.flows import assessing, audit_rows, conflict, names_field, offered, ok
from tests.support import Api, assessment_body, referral_body, victim


class TestForbidden:
    def test_triage_firing_an_event_it_may_never_fire_gets_403(self, triage: Api) -> None:
        ref = offered(triage)
        for event in ("accept", "decline", "hand_back", "expire"):
            answer = triage.event(ref["id"], event, ref["version"], reason="no_capacity")
            assert answer.status_code == 403, (event, answer.text)
            assert isinstance(answer.json()["detail"], str)
        after = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert (after["state"], after["version"]) == ("awaiting_provider", ref["version"])

    def test_a_provider_recording_an_assessment_gets_403(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        answer = worker.put(
            f"/api/referrals/{ref['id']}/assessment", assessment_body(ref["version"])
        )
        assert answer.status_code == 403, answer.text
        consent = worker.put(
            f"/api/referrals/{ref['id']}/consent",
            {"version": ref["version"], "share_with_provider": False},
        )
        assert consent.status_code == 403, consent.text

    def test_a_provider_creating_a_referral_gets_403(self, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        assert worker.post("/api/referrals", referral_body()).status_code == 403


class TestNotFound:
    def test_an_unknown_referral_id_answers_404_on_every_route(self, triage: Api) -> None:
        rid = uuid.uuid4()
        consent = {"version": 1, "share_with_provider": True, "method": "verbal"}
        for method, path, body in [
            ("GET", f"/api/referrals/{rid}", None),
            ("GET", f"/api/referrals/{rid}/history", None),
            ("POST", f"/api/referrals/{rid}/events/contact_made", {"version": 1, "channel": "sms"}),
            ("PUT", f"/api/referrals/{rid}/assessment", assessment_body(1)),
            ("PUT", f"/api/referrals/{rid}/consent", consent),
        ]:
            answer = triage.client.request(method, path, json=body, headers=triage.headers)
            assert answer.status_code == 404, (method, path, answer.text)
            assert isinstance(answer.json()["detail"], str)


def create_error(triage: Api, **overrides: Any) -> Any:
    return triage.post("/api/referrals", referral_body(**overrides))


class TestUnprocessableIntake:
    def test_bad_input_answers_422_naming_the_field(self, triage: Api) -> None:
        for overrides, field in [
            ({"crime_type": "jaywalking"}, "crime_type"),
            ({"area": "atlantis"}, "area"),
            ({"victim": victim(postcode="NOT A CODE")}, "postcode"),
            ({"victim": victim(phone="call me")}, "phone"),
            ({"victim": victim(email="not-an-email")}, "email"),
            ({"victim": victim(full_name="")}, "full_name"),
            ({"victim": victim(date_of_birth="2030-01-01")}, "date_of_birth"),
            ({"hate_strands": ["football"]}, "hate_strands"),
            ({"source": "carrier_pigeon"}, "source"),
            ({"crime_reported_at": "2026-11-23T09:30:00"}, "crime_reported_at"),
            ({"crime_reported_at": "2027-01-01T00:00:00Z"}, "crime_reported_at"),
            ({"surprise": True}, "surprise"),
        ]:
            answer = create_error(triage, **overrides)
            assert names_field(answer, field), (field, answer.text)

    def test_a_missing_field_is_named(self, triage: Api) -> None:
        body = referral_body()
        del body["crime_type"]
        assert names_field(triage.post("/api/referrals", body), "crime_type")

    def test_nothing_is_half_written(self, triage: Api) -> None:
        triage.create()
        for overrides in ({"area": "atlantis"}, {"crime_type": "jaywalking"}):
            assert create_error(triage, **overrides).status_code == 422
        assert ok(triage.get("/api/referrals"))["total"] == 1


class TestUnprocessableEvents:
    def test_a_missing_version_is_named(self, triage: Api) -> None:
        ref = triage.create()
        answer = triage.post(f"/api/referrals/{ref['id']}/events/contact_made", {"channel": "sms"})
        assert names_field(answer, "version"), answer.text

    def test_an_unknown_body_field_is_named(self, triage: Api) -> None:
        ref = triage.create()
        answer = triage.event(ref["id"], "contact_made", 1, channel="sms", mood="cheerful")
        assert names_field(answer, "mood"), answer.text

    def test_an_unknown_channel_is_named(self, triage: Api) -> None:
        ref = triage.create()
        answer = triage.event(ref["id"], "contact_made", 1, channel="carrier_pigeon")
        assert names_field(answer, "channel"), answer.text

    def test_decline_for_another_reason_without_a_note_answers_422(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        answer = worker.event(ref["id"], "decline", ref["version"], reason="other")
        assert answer.status_code == 422, answer.text
        assert "note" in answer.text

    def test_an_uncoded_decline_reason_is_named(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        answer = worker.event(ref["id"], "decline", ref["version"], reason="too_busy")
        assert names_field(answer, "reason"), answer.text

    def test_support_completed_without_outcomes_answers_422(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        ref = ok(worker.event(ref["id"], "accept", ref["version"]))
        answer = worker.event(ref["id"], "close", ref["version"], reason="support_completed")
        assert answer.status_code == 422, answer.text
        assert "outcomes" in answer.text
        unknown = worker.event(
            ref["id"], "close", ref["version"], reason="support_completed", outcomes={"rich": True}
        )
        assert names_field(unknown, "outcomes"), unknown.text

    def test_a_missing_note_or_outcomes_is_named_in_the_loc(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        decline = worker.event(ref["id"], "decline", ref["version"], reason="other")
        ref = ok(worker.event(ref["id"], "accept", ref["version"]))
        close = worker.event(ref["id"], "close", ref["version"], reason="support_completed")
        assert names_field(decline, "note"), decline.text
        assert names_field(close, "outcomes"), close.text

    def test_an_unknown_provider_code_on_route_is_named(self, triage: Api) -> None:
        ref = assessing(triage)
        answer = triage.event(ref["id"], "route", ref["version"], provider="no-such-service")
        assert names_field(answer, "provider"), answer.text

    def test_a_contact_attempt_in_the_future_is_named(self, triage: Api) -> None:
        ref = triage.create()
        answer = triage.event(
            ref["id"],
            "log_contact_attempt",
            1,
            channel="phone",
            outcome="no_answer",
            at="2026-11-24T10:05:00Z",
        )
        assert names_field(answer, "at"), answer.text

    def test_a_contact_attempt_without_a_timezone_is_named(self, triage: Api) -> None:
        ref = triage.create()
        answer = triage.event(
            ref["id"],
            "log_contact_attempt",
            1,
            channel="phone",
            outcome="no_answer",
            at="2026-11-24T09:00:00",
        )
        assert names_field(answer, "at"), answer.text

    def test_malformed_json_answers_422(self, triage: Api) -> None:
        ref = triage.create()
        answer = triage.client.post(
            f"/api/referrals/{ref['id']}/events/contact_made",
            content=b'{"version": 1, "channel": ',
            headers={**triage.headers, "Content-Type": "application/json"},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"][0] == "body"

    def test_an_unknown_event_name_answers_422(self, triage: Api) -> None:
        ref = triage.create()
        answer = triage.event(ref["id"], "teleport", 1)
        assert names_field(answer, "event"), answer.text

    def test_a_refused_body_changes_nothing(self, triage: Api, session_factory) -> None:
        ref = triage.create()
        before = len(audit_rows(session_factory, ref["id"]))
        triage.event(ref["id"], "contact_made", 1, channel="sms", mood="cheerful")
        assert len(audit_rows(session_factory, ref["id"])) == before
        got = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert (got["state"], got["version"]) == ("received", 1)


class TestConflict:
    def test_an_event_not_allowed_now_answers_409_with_what_is_allowed(self, triage: Api) -> None:
        ref = triage.create()
        detail = conflict(triage.event(ref["id"], "route", 1, provider="core-general"))
        assert detail == {
            "message": detail["message"],
            "state": "received",
            "version": 1,
            "allowed_events": ["log_contact_attempt", "contact_made", "close"],
            "failed": ["not_allowed_in_state"],
        }

    def test_a_stale_version_answers_409_and_changes_nothing(
        self, triage: Api, session_factory
    ) -> None:
        ref = triage.create()
        ref = ok(triage.event(ref["id"], "contact_made", 1, channel="phone"))
        rows_before = len(audit_rows(session_factory, ref["id"]))
        detail = conflict(
            triage.event(ref["id"], "log_contact_attempt", 1, channel="sms", outcome="no_answer")
        )
        assert detail["failed"] == ["stale_version"]
        assert (detail["state"], detail["version"]) == ("assessing", 2)
        assert detail["allowed_events"] == ["close"]
        assert len(audit_rows(session_factory, ref["id"])) == rows_before
        got = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert (got["state"], got["version"]) == ("assessing", 2)
        assert got["contact_attempts"] == [
            {
                "at": got["contact_attempts"][0]["at"],
                "channel": "phone",
                "outcome": None,
                "made_contact": True,
            }
        ]

    def test_a_stale_version_on_the_assessment_answers_409(self, triage: Api) -> None:
        ref = assessing(triage)
        detail = conflict(triage.assess(ref["id"], ref["version"] - 1, needs=[]))
        assert detail["failed"] == ["stale_version"]
        got = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert got["assessment"]["needs"] == ["emotional_support", "information_on_rights"]

    def test_routing_a_sexual_offence_without_consent_answers_consent_required(
        self, triage: Api
    ) -> None:
        ref = assessing(triage, crime_type="sexual_offence", assessment={"consent": None})
        assert ref["assessment"]["gaps"] == ["consent_required"]
        assert ref["allowed_events"] == ["close"]
        detail = conflict(triage.event(ref["id"], "route", ref["version"], provider="sv-adult"))
        assert detail["failed"] == ["consent_required"]
        assert "consent" in detail["message"]

    def test_routing_domestic_abuse_without_a_risk_answer_answers_dash_score_required(
        self, triage: Api
    ) -> None:
        ref = assessing(triage, crime_type="domestic_abuse")
        assert ref["assessment"]["complete"] is False
        detail = conflict(triage.event(ref["id"], "route", ref["version"], provider="da-idva"))
        assert detail["failed"] == ["dash_score_required"]
        assert "DASH" in detail["message"]

    def test_routing_without_any_assessment_answers_assessment_incomplete(
        self, triage: Api
    ) -> None:
        ref = assessing(triage, assess=False)
        detail = conflict(triage.event(ref["id"], "route", ref["version"], provider="sv-adult"))
        assert detail["failed"] == ["assessment_incomplete"]

    def test_every_failed_guard_is_named(self, triage: Api) -> None:
        ref = assessing(triage, crime_type="domestic_abuse", assessment={"consent": None})
        detail = conflict(triage.event(ref["id"], "route", ref["version"], provider="da-idva"))
        assert detail["failed"] == ["dash_score_required", "consent_required"]

    def test_an_idempotency_key_reused_with_another_body_answers_the_409_shape(
        self, triage: Api
    ) -> None:
        key = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
        first = triage.post("/api/referrals", referral_body(external_ref=None), headers=key)
        assert first.status_code == 201, first.text
        again = triage.post(
            "/api/referrals", referral_body(external_ref=None, crime_type="theft"), headers=key
        )
        detail = conflict(again)
        assert detail["failed"] == ["idempotency_key_reused"]
        assert (detail["state"], detail["version"]) == ("received", 1)


class TestTheOrderOfAnswers:
    def test_403_comes_before_404(self, triage: Api) -> None:
        answer = triage.event(str(uuid.uuid4()), "accept", 1)
        assert answer.status_code == 403, answer.text

    def test_404_comes_before_422_for_another_providers_referral(
        self, triage: Api, sign_in
    ) -> None:
        other = sign_in("provider", provider="da-idva")
        ref = offered(triage, "core-general")
        answer = other.event(ref["id"], "decline", ref["version"], reason="other")
        assert answer.status_code == 404, answer.text

    def test_404_comes_before_409_for_another_providers_referral(
        self, triage: Api, sign_in
    ) -> None:
        other = sign_in("provider", provider="da-idva")
        ref = offered(triage, "core-general")
        assert other.event(ref["id"], "accept", ref["version"] + 5).status_code == 404

    def test_422_comes_before_409_for_a_stale_version(self, triage: Api) -> None:
        ref = triage.create()
        answer = triage.event(ref["id"], "contact_made", 7, channel="sms", mood="cheerful")
        assert answer.status_code == 422, answer.text

    def test_422_comes_before_409_for_an_event_not_allowed_now(self, triage: Api) -> None:
        ref = triage.create()
        answer = triage.event(ref["id"], "route", 1, provider="core-general", urgent=True)
        assert answer.status_code == 422, answer.text

    @pytest.mark.parametrize(
        ("event", "fields"),
        [
            (
                "log_contact_attempt",
                {"channel": "sms", "outcome": "no_answer", "at": "2030-01-01T00:00:00Z"},
            ),
            ("route", {"provider": "no-such-service"}),
        ],
    )
    def test_422_comes_before_409_for_a_body_checked_against_stored_data(
        self, triage: Api, event: str, fields: dict[str, Any]
    ) -> None:
        ref = triage.create()
        answer = triage.event(ref["id"], event, 99, **fields)
        assert answer.status_code == 422, answer.text

    def test_404_comes_before_422_on_the_assessment(self, triage: Api) -> None:
        answer = triage.put(f"/api/referrals/{uuid.uuid4()}/assessment", {"version": 1})
        assert answer.status_code == 404, answer.text

    def test_422_comes_before_409_for_a_reused_idempotency_key(self, triage: Api) -> None:
        key = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
        first = triage.post("/api/referrals", referral_body(external_ref=None), headers=key)
        assert first.status_code == 201, first.text
        again = triage.post(
            "/api/referrals", referral_body(external_ref=None, area="atlantis"), headers=key
        )
        assert names_field(again, "area"), again.text


class TestNeverA500:
    def test_a_huge_paging_offset_is_refused_or_answered(self, triage: Api) -> None:
        answer = triage.get("/api/referrals", params={"offset": 10**20})
        assert answer.status_code in (200, 422), answer.text

    def test_a_nul_character_in_a_text_field_is_refused_naming_the_field(self, triage: Api) -> None:
        answer = triage.post("/api/referrals", referral_body(notes="door\x00forced"))
        assert answer.status_code == 422, answer.text
        assert names_field(answer, "notes"), answer.text

    def test_a_nul_character_in_a_path_or_sign_in_is_bad_input_not_a_crash(
        self, triage: Api, client
    ) -> None:
        assert triage.get("/api/providers/core%00general").status_code == 422
        answer = client.post("/api/auth/token", data={"username": "a\x00b", "password": "x"})
        assert answer.status_code == 401

    def test_a_huge_version_is_just_stale(self, triage: Api) -> None:
        ref = triage.create()
        detail = conflict(triage.event(ref["id"], "contact_made", 10**30, channel="sms"))
        assert detail["failed"] == ["stale_version"]

    def test_a_body_that_is_not_an_object_answers_422(self, triage: Api) -> None:
        ref = triage.create()
        answer = triage.post(f"/api/referrals/{ref['id']}/events/contact_made", [1, 2])
        assert answer.status_code == 422, answer.text
