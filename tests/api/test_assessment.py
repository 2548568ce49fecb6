"""The needs assessment, risk, and consent: recording, the consent gate, withdrawal."""

from tests.api.flows import actions, assessing, audit_rows, conflict, held, offered, ok
from tests.support import Api, assessment_body

NO_FLAGS = assessment_body(1)["vulnerability"]


def consent(triage: Api, ref: dict, share: bool, method: str | None = None):
    body = {"version": ref["version"], "share_with_provider": share, "method": method}
    return triage.put(f"/api/referrals/{ref['id']}/consent", body)


class TestRecordingTheAssessment:
    def test_records_needs_risk_and_consent_and_moves_the_version_on(self, triage: Api) -> None:
        ref = assessing(triage, assess=False)
        got = ok(
            triage.assess(
                ref["id"],
                ref["version"],
                needs=["compensation", "trial_preparation"],
                risk={"dash_score": 11, "professional_judgement": None},
                vulnerability={**NO_FLAGS, "intimidated": True},
                consent={"share_with_provider": True, "method": "written"},
            )
        )
        assert (got["state"], got["version"]) == ("assessing", ref["version"] + 1)
        assessment = got["assessment"]
        assert assessment["needs"] == ["compensation", "trial_preparation"]
        assert assessment["risk"] == {
            "dash_score": 11,
            "professional_judgement": None,
            "level": "medium",
        }
        assert assessment["vulnerability"]["intimidated"] is True
        assert assessment["consent"]["share_with_provider"] is True
        assert assessment["consent"]["method"] == "written"
        assert assessment["consent"]["recorded_at"] == "2026-11-24T10:00:00Z"
        assert (assessment["complete"], assessment["gaps"]) == (True, [])

    def test_a_professional_judgement_raises_the_risk_level_but_never_lowers_it(
        self, triage: Api
    ) -> None:
        ref = assessing(triage, crime_type="domestic_abuse", assess=False)
        for dash_score, judgement, level in [
            (9, None, "standard"),
            (10, None, "medium"),
            (14, None, "high"),
            (5, "high", "high"),
            (None, "medium", "medium"),
            (15, "standard", "high"),
        ]:
            risk = {"dash_score": dash_score, "professional_judgement": judgement}
            ref = ok(triage.assess(ref["id"], ref["version"], risk=risk))
            assert ref["assessment"]["risk"]["level"] == level, risk

    def test_an_empty_list_of_needs_is_an_answer(self, triage: Api) -> None:
        ref = assessing(triage, assessment={"needs": []})
        assert ref["assessment"]["complete"] is True
        assert ref["allowed_events"] == ["route", "close"]

    def test_bad_answers_are_refused_naming_the_field(self, triage: Api) -> None:
        ref = assessing(triage, assess=False)
        for overrides, field in [
            ({"needs": ["a_cup_of_tea"]}, "needs"),
            ({"risk": {"dash_score": 25, "professional_judgement": None}}, "dash_score"),
            ({"risk": {"dash_score": None, "professional_judgement": "extreme"}}, "risk"),
            ({"consent": {"share_with_provider": True}}, "consent"),
            ({"vulnerability": {"mental_disorder": True}}, "vulnerability"),
            ({"care_leaver": "perhaps"}, "care_leaver"),
        ]:
            answer = triage.assess(ref["id"], ref["version"], **overrides)
            assert answer.status_code == 422, answer.text
            assert any(field in e["loc"] for e in answer.json()["detail"]), answer.text
        got = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert (got["assessment"], got["version"]) == (None, ref["version"])


class TestTheConsentGate:
    def test_a_burglary_without_a_consent_answer_can_be_routed(self, triage: Api) -> None:
        ref = assessing(triage, assessment={"consent": None})
        ref = ok(triage.event(ref["id"], "route", ref["version"], provider="core-general"))
        assert ref["state"] == "awaiting_provider"

    def test_refused_consent_stops_routing(self, triage: Api) -> None:
        ref = assessing(triage, assessment={"consent": {"share_with_provider": False}})
        detail = conflict(triage.event(ref["id"], "route", ref["version"], provider="sv-adult"))
        assert detail["failed"] == ["consent_refused"]

    def test_domestic_abuse_with_a_professional_judgement_alone_can_be_routed(
        self, triage: Api
    ) -> None:
        ref = assessing(
            triage,
            crime_type="domestic_abuse",
            assessment={"risk": {"dash_score": None, "professional_judgement": "medium"}},
        )
        ref = ok(triage.event(ref["id"], "route", ref["version"], provider="da-outreach"))
        assert ref["state"] == "awaiting_provider"

    def test_consent_given_later_lets_a_sexual_offence_be_routed(self, triage: Api) -> None:
        ref = assessing(triage, crime_type="sexual_offence", assessment={"consent": None})
        ref = ok(consent(triage, ref, True, "verbal"))
        assert ref["assessment"]["complete"] is True
        assert ref["allowed_events"] == ["route", "close"]
        ref = ok(triage.event(ref["id"], "route", ref["version"], provider="sv-adult"))
        assert ref["state"] == "awaiting_provider"


class TestChangingConsent:
    def test_withdrawing_it_while_an_offer_is_open_withdraws_the_offer(
        self, triage: Api, sign_in, session_factory
    ) -> None:
        worker = sign_in("provider", provider="sv-adult")
        ref = offered(triage, "sv-adult", crime_type="sexual_offence")
        assert worker.get(f"/api/referrals/{ref['id']}").status_code == 200
        got = ok(consent(triage, ref, False))
        assert got["state"] == "assessing"
        assert got["offers"][0]["answer"] == "withdrawn"
        assert got["deadlines"]["respond_by"] is None
        assert got["assessment"]["consent"]["share_with_provider"] is False
        assert worker.get(f"/api/referrals/{ref['id']}").status_code == 404
        assert worker.event(ref["id"], "accept", got["version"]).status_code == 404
        assert ok(worker.get("/api/referrals"))["total"] == 0
        rows = audit_rows(session_factory, ref["id"])
        assert [r.action for r in rows[-2:]] == ["consent", "consent_withdrawn"]
        assert (rows[-1].from_state, rows[-1].to_state) == ("awaiting_provider", "assessing")
        assert rows[-1].version == got["version"]

    def test_withdrawing_it_in_support_leaves_the_case_with_its_provider(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="core-general")
        ref = held(triage, worker)
        got = ok(consent(triage, ref, False))
        assert (got["state"], got["provider"]) == ("in_support", "core-general")
        assert worker.get(f"/api/referrals/{ref['id']}").status_code == 200

    def test_it_cannot_change_before_an_assessment(self, triage: Api) -> None:
        ref = assessing(triage, assess=False)
        detail = conflict(consent(triage, ref, True, "verbal"))
        assert detail["failed"] == ["assessment_incomplete"]

    def test_a_stale_version_changes_nothing(self, triage: Api) -> None:
        ref = assessing(triage)
        detail = conflict(consent(triage, {**ref, "version": ref["version"] - 1}, False))
        assert detail["failed"] == ["stale_version"]
        got = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert got["assessment"]["consent"]["share_with_provider"] is True

    def test_refusing_it_in_a_new_assessment_also_withdraws_the_open_offer(
        self, triage: Api, sign_in
    ) -> None:
        worker = sign_in("provider", provider="sv-adult")
        ref = offered(triage, "sv-adult", crime_type="sexual_offence")
        got = ok(triage.assess(ref["id"], ref["version"], consent={"share_with_provider": False}))
        accepted = worker.event(ref["id"], "accept", got["version"])
        assert accepted.status_code == 404, accepted.text
        assert got["state"] == "assessing"


class TestTheAuditOfAssessments:
    def test_each_change_records_what_it_was_before_and_after(
        self, triage: Api, session_factory
    ) -> None:
        ref = assessing(triage)
        ref = ok(triage.assess(ref["id"], ref["version"], needs=["compensation"]))
        ref = ok(consent(triage, ref, True, "electronic"))
        rows = [
            r
            for r in audit_rows(session_factory, ref["id"])
            if r.action in ("assessment", "consent")
        ]
        assert [r.action for r in rows] == ["assessment", "assessment", "consent"]
        first, second, third = (r.detail for r in rows)
        assert first["before"] is None
        assert first["after"]["needs"] == ["emotional_support", "information_on_rights"]
        assert second["before"] == first["after"]
        assert second["after"]["needs"] == ["compensation"]
        assert third["before"]["consent_method"] == "verbal"
        assert third["after"]["consent_method"] == "electronic"
        assert [r.version for r in rows] == [ref["version"] - 2, ref["version"] - 1, ref["version"]]
        assert all(r.from_state == r.to_state == "assessing" for r in rows)
        assert actions(session_factory, ref["id"]).count("assessment") == 2
