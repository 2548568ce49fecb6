"""Each role's scope: providers see only their own referrals, restricted until they accept."""

import uuid

import pytest

from tests.api.flows import held, offered, ok
from tests.support import Api, assessment_body, referral_body

NAME = "Olivia Hartley"
PHONE = "07700 900123"
PERSONAL_KEYS = ("date_of_birth", "phone", "address", "postcode", "email", "full_name")


def keys_in(value: object) -> set[str]:
    """Every key of every object nested in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


def referral_routes(rid: str) -> list[tuple[str, str, object]]:
    """Every /api/referrals route as (method, path, body)."""
    return [
        ("GET", "/api/referrals", None),
        ("POST", "/api/referrals", referral_body()),
        ("GET", f"/api/referrals/{rid}", None),
        ("PUT", f"/api/referrals/{rid}/assessment", assessment_body(1)),
        ("PUT", f"/api/referrals/{rid}/consent", {"version": 1, "share_with_provider": False}),
        ("POST", f"/api/referrals/{rid}/events/contact_made", {"version": 1, "channel": "phone"}),
        ("GET", f"/api/referrals/{rid}/history", None),
    ]


def call(api: Api, method: str, path: str, body: object) -> object:
    if method == "GET":
        return api.get(path)
    if method == "PUT":
        return api.put(path, body)
    return api.post(path, body)


class TestAnotherProvidersReferral:
    def test_is_not_found_on_detail_history_and_events(self, triage: Api, sign_in) -> None:
        other = sign_in("provider", provider="da-idva")
        ref = offered(triage, "core-general")
        rid = ref["id"]
        assert other.get(f"/api/referrals/{rid}").status_code == 404
        assert other.get(f"/api/referrals/{rid}/history").status_code == 404
        for event in ("accept", "decline"):
            answer = other.event(rid, event, ref["version"], reason="no_capacity")
            assert answer.status_code == 404, answer.text

    def test_is_not_found_once_the_other_provider_holds_it(self, triage: Api, sign_in) -> None:
        holder = sign_in("provider", provider="core-general")
        other = sign_in("provider", provider="da-idva")
        ref = held(triage, holder)
        assert other.get(f"/api/referrals/{ref['id']}").status_code == 404
        answer = other.event(ref["id"], "hand_back", ref["version"], reason="no_capacity")
        assert answer.status_code == 404, answer.text

    def test_its_not_found_answer_is_the_same_as_for_an_unknown_id(
        self, triage: Api, sign_in
    ) -> None:
        other = sign_in("provider", provider="da-idva")
        ref = offered(triage, "core-general")
        theirs = other.get(f"/api/referrals/{ref['id']}")
        unknown = other.get(f"/api/referrals/{uuid.uuid4()}")
        assert theirs.status_code == unknown.status_code == 404
        assert set(theirs.json()) == set(unknown.json()) == {"detail"}

    def test_a_refused_attempt_changes_nothing(self, triage: Api, sign_in) -> None:
        other = sign_in("provider", provider="da-idva")
        ref = offered(triage, "core-general")
        other.event(ref["id"], "accept", ref["version"])
        after = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert (after["state"], after["version"]) == ("awaiting_provider", ref["version"])


class TestAProvidersList:
    def test_shows_only_referrals_offered_to_or_held_by_its_provider(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="core-general")
        mine_offered = offered(triage, "core-general")
        mine_held = held(triage, worker, "core-general")
        offered(triage, "da-idva")
        triage.create()
        page = ok(worker.get("/api/referrals"))
        assert page["total"] == 2
        assert {i["id"] for i in page["items"]} == {mine_offered["id"], mine_held["id"]}
        assert {i["provider"] for i in page["items"]} == {"core-general"}

    def test_names_the_victim_only_of_the_cases_it_holds(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        mine_offered = offered(triage, "core-general")
        mine_held = held(triage, worker, "core-general")
        items = {i["id"]: i for i in ok(worker.get("/api/referrals"))["items"]}
        assert items[mine_offered["id"]]["victim_name"] is None
        assert items[mine_held["id"]]["victim_name"] == NAME
        assert items[mine_offered["id"]]["age_band"] == "35-49"

    def test_of_a_provider_with_nothing_offered_is_empty(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="mental-health-hub")
        offered(triage, "core-general")
        assert ok(worker.get("/api/referrals")) == {
            "items": [],
            "total": 0,
            "limit": 50,
            "offset": 0,
        }


class TestWhatAProviderSeesBeforeAccepting:
    def test_the_detail_has_no_victim_notes_or_contact_details(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        answer = worker.get(f"/api/referrals/{ref['id']}")
        got = ok(answer)
        assert got["victim"] is None
        assert got["victim_restricted"] is True
        assert got["notes"] is None
        assert got["contact_attempts"] == []
        assert got["age_band"] == "35-49"
        assert NAME not in answer.text
        assert PHONE not in answer.text
        assert "Friar Gate" not in answer.text
        assert "DE1 1BX" not in answer.text
        assert "1990-04-02" not in answer.text
        assert not set(PERSONAL_KEYS) & keys_in(got)

    def test_it_sees_what_it_needs_to_decide(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="hate-crime")
        ref = offered(triage, "hate-crime", hate_strands=["race"], crime_type="public_order")
        got = ok(worker.get(f"/api/referrals/{ref['id']}"))
        assert got["reference"] == ref["reference"]
        assert got["crime_type"] == "public_order"
        assert got["hate_strands"] == ["race"]
        assert got["area"] == "derby_city"
        assert got["safe_channels"] == ["phone"]
        assert got["assessment"]["needs"] == ["emotional_support", "information_on_rights"]
        assert got["deadlines"]["respond_by"] is not None
        assert got["offers"][0]["provider"] == "hate-crime"

    def test_the_restricted_detail_hides_the_assessments_personal_answers(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="da-idva")
        ref = offered(
            triage,
            "da-idva",
            crime_type="domestic_abuse",
            assessment={"risk": {"dash_score": 15, "professional_judgement": None}},
        )
        got = ok(worker.get(f"/api/referrals/{ref['id']}"))
        assessment = got["assessment"]
        assert assessment["vulnerability"] is None
        assert assessment["consent"] is None
        assert assessment["risk"]["dash_score"] is None
        assert assessment["risk"]["level"] == "high"

    def test_the_answer_of_a_decline_is_restricted_too(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        answer = worker.event(ref["id"], "decline", ref["version"], reason="no_capacity")
        assert answer.status_code == 200, answer.text
        assert answer.json()["victim"] is None
        assert NAME not in answer.text and PHONE not in answer.text

    def test_the_history_names_no_victim(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        answer = worker.get(f"/api/referrals/{ref['id']}/history")
        assert answer.status_code == 200, answer.text
        assert NAME not in answer.text and PHONE not in answer.text

    def test_the_history_shows_no_more_of_the_assessment_than_the_detail(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="da-idva")
        ref = offered(
            triage,
            "da-idva",
            crime_type="burglary",
        )
        rid = ref["id"]
        vulnerable = assessment_body(ref["version"])
        vulnerable["vulnerability"]["mental_disorder"] = True
        vulnerable["risk"] = {"dash_score": 17, "professional_judgement": None}
        ok(triage.put(f"/api/referrals/{rid}/assessment", vulnerable))
        answer = worker.get(f"/api/referrals/{rid}/history")
        assert answer.status_code == 200, answer.text
        assert "mental_disorder" not in answer.text
        assert "dash_score" not in answer.text


class TestWhatAProviderSeesAfterAccepting:
    def test_the_victim_notes_and_contact_details(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = held(triage, worker)
        assert ref["victim_restricted"] is False
        assert ref["victim"]["full_name"] == NAME
        assert ref["victim"]["phone"] == PHONE
        got = ok(worker.get(f"/api/referrals/{ref['id']}"))
        assert got["victim"]["date_of_birth"] == "1990-04-02"
        assert got["notes"] == "Back door forced overnight."
        assert got["assessment"]["vulnerability"] is not None

    def test_a_closed_case_it_held_stays_in_its_scope(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = held(triage, worker)
        ok(triage.event(ref["id"], "close", ref["version"], reason="withdrawn"))
        got = ok(worker.get(f"/api/referrals/{ref['id']}"))
        assert got["state"] == "closed"
        assert ok(worker.get("/api/referrals"))["total"] == 1

    def test_a_declined_referral_leaves_its_scope(self, triage: Api, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = offered(triage, "core-general")
        ok(worker.event(ref["id"], "decline", ref["version"], reason="no_capacity"))
        assert worker.get(f"/api/referrals/{ref['id']}").status_code == 404
        assert worker.get(f"/api/referrals/{ref['id']}/history").status_code == 404
        assert ok(worker.get("/api/referrals"))["total"] == 0


class TestRolesWithoutPersonLevelAccess:
    @pytest.mark.parametrize("role", ["commissioner", "admin"])
    def test_get_403_on_every_referral_route(self, triage: Api, sign_in, role: str) -> None:
        caller = sign_in(role)
        ref = triage.create()
        for method, path, body in referral_routes(ref["id"]):
            answer = call(caller, method, path, body)
            assert answer.status_code == 403, (method, path, answer.text)
            assert NAME not in answer.text
        after = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert after["version"] == 1
        assert ok(triage.get("/api/referrals"))["total"] == 1

    @pytest.mark.parametrize("role", ["commissioner", "admin", "intake"])
    def test_get_403_even_for_an_unknown_referral(self, sign_in, role: str) -> None:
        caller = sign_in(role)
        answer = caller.get(f"/api/referrals/{uuid.uuid4()}")
        assert answer.status_code == 403, answer.text


class TestAnIntakeClient:
    def test_creates_a_referral_and_learns_nothing_about_the_victim(
        self, triage: Api, sign_in
    ) -> None:
        intake = sign_in("intake")
        answer = intake.post("/api/referrals", referral_body())
        assert answer.status_code == 201, answer.text
        receipt = answer.json()
        assert set(receipt) == {"id", "reference", "state", "version", "allowed_events"}
        assert (receipt["state"], receipt["version"], receipt["allowed_events"]) == (
            "received",
            1,
            [],
        )
        assert NAME not in answer.text and PHONE not in answer.text
        got = ok(triage.get(f"/api/referrals/{receipt['id']}"))
        assert got["victim"]["full_name"] == NAME

    def test_may_not_list_read_or_change_referrals(self, triage: Api, sign_in) -> None:
        intake = sign_in("intake")
        ref = triage.create()
        for method, path, body in referral_routes(ref["id"]):
            if (method, path) == ("POST", "/api/referrals"):
                continue
            answer = call(intake, method, path, body)
            assert answer.status_code == 403, (method, path, answer.text)


class TestTheProviderDirectory:
    def test_is_open_to_every_signed_in_role(self, sign_in) -> None:
        for role in ("triage", "provider", "commissioner", "admin", "intake"):
            caller = sign_in(role, provider="core-general" if role == "provider" else None)
            answer = caller.get("/api/providers")
            assert answer.status_code == 200, (role, answer.text)
            items = answer.json()["items"]
            codes = {p["code"] for p in items}
            assert codes >= {"core-general", "da-idva", "sv-adult", "cse-service", "hate-crime"}
            assert all(set(p) >= {"code", "name", "services", "areas"} for p in items)
