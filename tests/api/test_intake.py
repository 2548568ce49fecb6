"""Logging referrals: what a new referral looks like, and idempotent intake."""

import re
import uuid

from tests.api.flows import actions, ok
from tests.support import Api, referral_body, victim


def total(triage: Api) -> int:
    return ok(triage.get("/api/referrals"))["total"]


class TestCreatingAReferral:
    def test_triage_logs_a_received_referral_with_a_readable_reference(self, triage: Api) -> None:
        answer = triage.post("/api/referrals", referral_body(hate_strands=["race", "religion"]))
        assert answer.status_code == 201, answer.text
        ref = answer.json()
        assert re.fullmatch(r"VR-26-[2-9A-HJ-NP-Z]{8}", ref["reference"]), ref["reference"]
        assert (ref["state"], ref["version"]) == ("received", 1)
        assert ref["received_at"] == "2026-11-24T10:00:00Z"
        assert ref["hate_strands"] == ["race", "religion"]
        assert ref["victim"]["full_name"] == "Olivia Hartley"
        assert ref["victim"]["postcode"] == "DE1 1BX"
        assert ref["age_band"] == "35-49"
        assert ref["victim_restricted"] is False
        assert ref["offers"] == [] and ref["provider"] is None
        got = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert got["reference"] == ref["reference"]

    def test_a_victim_without_a_date_of_birth_has_an_unknown_age_band(self, triage: Api) -> None:
        ref = triage.create(victim=victim(date_of_birth=None))
        assert ref["age_band"] == "unknown"

    def test_a_postcode_is_stored_in_capitals(self, triage: Api) -> None:
        ref = triage.create(victim=victim(postcode="de22 3ab"))
        assert ref["victim"]["postcode"] == "DE22 3AB"


class TestIdempotentIntake:
    def test_the_same_source_and_external_ref_answers_200_with_the_same_referral(
        self, triage: Api, session_factory
    ) -> None:
        body = referral_body()
        first = triage.post("/api/referrals", body)
        assert first.status_code == 201, first.text
        before = total(triage)
        again = triage.post("/api/referrals", body)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["reference"] == first.json()["reference"]
        assert total(triage) == before == 1
        assert actions(session_factory, first.json()["id"]).count("create") == 1

    def test_a_repeat_with_other_details_is_a_409_and_changes_nothing(self, triage: Api) -> None:
        body = referral_body(external_ref="DP-26-REPEAT")
        first = triage.post("/api/referrals", body).json()
        again = triage.post("/api/referrals", {**body, "crime_type": "theft"})
        assert again.status_code == 409, again.text
        assert again.json()["detail"]["fields"] == ["crime_type"]
        assert (again.json()["detail"]["state"], again.json()["detail"]["version"]) == (
            "received",
            1,
        )
        stored = triage.get(f"/api/referrals/{first['id']}").json()
        assert (stored["crime_type"], stored["version"]) == ("burglary", 1)
        assert total(triage) == 1

    def test_the_same_external_ref_from_another_source_is_another_referral(
        self, triage: Api
    ) -> None:
        first = triage.create(external_ref="SHARED-1", source="police")
        other = triage.post(
            "/api/referrals", referral_body(external_ref="SHARED-1", source="partner_agency")
        )
        assert other.status_code == 201, other.text
        assert other.json()["id"] != first["id"]
        assert total(triage) == 2

    def test_the_same_idempotency_key_and_body_answers_200_with_the_same_referral(
        self, triage: Api
    ) -> None:
        body = referral_body(external_ref=None)
        key = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
        first = triage.post("/api/referrals", body, headers=key)
        assert first.status_code == 201, first.text
        again = triage.post("/api/referrals", body, headers=key)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        assert total(triage) == 1

    def test_without_a_key_or_external_ref_each_post_is_a_new_referral(self, triage: Api) -> None:
        body = referral_body(external_ref=None)
        ids = {ok(triage.post("/api/referrals", body), 201)["id"] for _ in range(2)}
        assert len(ids) == 2

    def test_an_idempotency_key_reused_with_another_body_answers_409_and_creates_nothing(
        self, triage: Api
    ) -> None:
        key = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
        ok(triage.post("/api/referrals", referral_body(external_ref=None), headers=key), 201)
        again = triage.post(
            "/api/referrals", referral_body(external_ref=None, crime_type="fraud"), headers=key
        )
        assert again.status_code == 409, again.text
        assert again.json()["detail"]["failed"] == ["idempotency_key_reused"]
        assert total(triage) == 1

    def test_an_intake_clients_retry_answers_200_with_the_same_receipt(
        self, triage: Api, sign_in
    ) -> None:
        intake = sign_in("intake")
        body = referral_body()
        first = intake.post("/api/referrals", body)
        again = intake.post("/api/referrals", body)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert "victim" not in again.json()
        assert total(triage) == 1
