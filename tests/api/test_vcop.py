"""The Victims' Code through the API: entitlements, the check log and the consent gate."""

from tests.api.flows import assessing, conflict, ok
from tests.support import Api

SEXUAL_OFFENCE = {"crime_type": "sexual_offence"}


def rights(triage: Api, referral_id: str) -> dict[str, dict]:
    answer = ok(triage.get(f"/api/referrals/{referral_id}/vcop"))
    return {r["right"]: r for r in answer["rights"]}


class TestEntitlements:
    def test_a_new_referral_has_its_edition_and_each_right_with_a_status(self, triage: Api) -> None:
        ref = triage.create(crime_type="domestic_abuse")
        answer = ok(triage.get(f"/api/referrals/{ref['id']}/vcop"))
        assert answer["edition"] == "2021" and answer["enhanced"] is True
        assert answer["enhanced_reasons"] == ["domestic_abuse"]
        by_right = {r["right"]: r for r in answer["rights"]}
        assert len(by_right) == 12 and by_right["R7"]["status"] == "not_tracked"
        assert by_right["R3"]["status"] == "pending" and by_right["R3"]["due_at"]
        assert by_right["R4"]["status"] == "met"
        assert [c["trigger"] for c in by_right["R3"]["checks"]] == ["create"]

    def test_contact_made_meets_r3_and_is_logged_with_its_evidence(self, triage: Api) -> None:
        ref = triage.create()
        ref = ok(triage.event(ref["id"], "contact_made", ref["version"], channel="phone"))
        r3 = rights(triage, ref["id"])["R3"]
        assert r3["status"] == "met" and r3["met_at"] == "2026-11-24T10:00:00Z"
        last = r3["checks"][-1]
        assert last["trigger"] == "contact_made" and last["evidence"]["version"] == ref["version"]
        assert last["checked_by"] is not None

    def test_every_evaluation_writes_a_check_row(self, triage: Api) -> None:
        ref = assessing(triage)
        triggers = [c["trigger"] for c in rights(triage, ref["id"])["R4"]["checks"]]
        assert triggers == ["create", "contact_made", "assessment"]

    def test_the_assessment_re_decides_enhanced_on_its_grounds(self, triage: Api) -> None:
        ref = assessing(
            triage, assessment={"vulnerability": {**VULNERABILITY, "intimidated": True}}
        )
        answer = ok(triage.get(f"/api/referrals/{ref['id']}/vcop"))
        assert answer["enhanced_reasons"] == ["intimidated"]
        assert ref["entitlements"]["enhanced"] is True

    def test_the_detail_summary_names_the_next_right_due(self, triage: Api) -> None:
        ref = ok(triage.get(f"/api/referrals/{triage.create()['id']}"))
        assert ref["entitlements"]["next_due"]["right"] == "R3"
        assert ref["entitlements"]["breached"] == []

    def test_a_provider_before_accepting_sees_only_enhanced_or_standard(
        self, triage: Api, sign_in
    ) -> None:
        ref = ok(triage.event((r := assessing(triage))["id"], "route", r["version"]))
        worker = sign_in("provider", provider="core-general")
        seen = ok(worker.get(f"/api/referrals/{ref['id']}"))["entitlements"]
        assert seen == {
            "edition": None,
            "enhanced": False,
            "enhanced_reasons": None,
            "next_due": None,
            "breached": [],
        }
        assert worker.get(f"/api/referrals/{ref['id']}/vcop").status_code == 403


VULNERABILITY = {
    "mental_disorder": False,
    "impaired_intelligence": False,
    "physical_disability": False,
    "intimidated": False,
    "persistently_targeted": False,
    "bereaved": False,
}


class TestConsentGate:
    def test_a_sexual_offence_is_not_routed_until_consent_is_recorded(self, triage: Api) -> None:
        ref = assessing(triage, assessment={"consent": None}, **SEXUAL_OFFENCE)
        assert conflict(triage.event(ref["id"], "route", ref["version"]))["failed"] == [
            "consent_required"
        ]
        ref = ok(
            triage.put(
                f"/api/referrals/{ref['id']}/consent",
                {"version": ref["version"], "share_with_provider": True, "method": "written"},
            )
        )
        assert ok(triage.event(ref["id"], "route", ref["version"]))["state"] == "awaiting_provider"

    def test_a_burglary_is_shared_by_default_without_a_consent_answer(self, triage: Api) -> None:
        ref = assessing(triage, assessment={"consent": None})
        assert ok(triage.event(ref["id"], "route", ref["version"]))["state"] == "awaiting_provider"

    def test_a_victim_who_opted_out_is_not_routed_and_r4_is_excluded(self, triage: Api) -> None:
        ref = assessing(triage, assessment={"consent": {"share_with_provider": False}})
        assert conflict(triage.event(ref["id"], "route", ref["version"]))["failed"] == [
            "consent_refused"
        ]
        r4 = rights(triage, ref["id"])["R4"]
        assert (r4["status"], r4["reason"]) == ("excluded", "opted_out")

    def test_withdrawing_consent_stops_sharing_and_is_logged(self, triage: Api, sign_in) -> None:
        ref = ok(triage.event((r := assessing(triage))["id"], "route", r["version"]))
        ref = ok(
            triage.put(
                f"/api/referrals/{ref['id']}/consent",
                {"version": ref["version"], "share_with_provider": False},
            )
        )
        assert ref["state"] == "assessing"
        history = ok(triage.get(f"/api/referrals/{ref['id']}/history"))["events"]
        assert [
            e["action"] for e in history if e["action"] in ("consent", "consent_withdrawn")
        ] == ["consent", "consent_withdrawn"]
        worker = sign_in("provider", provider="core-general")
        assert worker.get(f"/api/referrals/{ref['id']}").status_code == 404
