"""Routing through the API: the rules' choice, by hand, decline and re-route, explain, preview."""

from typing import Any

import pytest

from tests.api.flows import assessing, conflict, ok
from tests.support import Api

DA_HIGH = {
    "crime_type": "domestic_abuse",
    "victim": {
        "full_name": "Grace Whitfield",
        "date_of_birth": "1991-02-11",
        "phone": "07700 900777",
        "safe_channels": ["phone"],
    },
}
DA_HIGH_ASSESSMENT = {"risk": {"dash_score": 16, "professional_judgement": None}}
CSE_17 = {
    "crime_type": "child_sexual_exploitation",
    "victim": {"full_name": "Maisie Turner", "date_of_birth": "2009-06-01", "safe_channels": []},
}


def route(triage: Api, ref: dict[str, Any], **fields: Any) -> Any:
    return triage.event(ref["id"], "route", ref["version"], **fields)


def decline(worker: Api, ref: dict[str, Any], reason: str = "no_capacity") -> dict[str, Any]:
    return ok(worker.event(ref["id"], "decline", ref["version"], reason=reason))


def offered_to(triage: Api, referral_id: str) -> str | None:
    detail = ok(triage.get(f"/api/referrals/{referral_id}"))
    open_offers = [o["provider"] for o in detail["offers"] if o["answer"] is None]
    assert len(open_offers) <= 1
    return open_offers[0] if open_offers else None


class TestRouteByTheRules:
    def test_route_without_a_provider_offers_the_rules_first_candidate(self, triage: Api) -> None:
        ref = assessing(triage, assessment=DA_HIGH_ASSESSMENT, **DA_HIGH)
        ref = ok(route(triage, ref))
        assert ref["state"] == "awaiting_provider"
        assert offered_to(triage, ref["id"]) == "da-idva"

    def test_the_stored_decision_explains_the_rule_and_the_rule_set(self, triage: Api) -> None:
        ref = ok(route(triage, assessing(triage, assessment=DA_HIGH_ASSESSMENT, **DA_HIGH)))
        why = ok(triage.get(f"/api/referrals/{ref['id']}/routing"))
        assert why["stored"] is True and why["by_hand"] is False
        assert why["chosen_provider"] == "da-idva"
        assert why["matched_rules"] == ["da-high-risk-idva"]
        assert [c["provider"] for c in why["candidates"]] == ["da-idva", "core-general"]
        assert why["rule_set_version"].startswith("derbyshire@") and len(why["rule_set_hash"]) == 16

    def test_before_any_route_the_decision_is_computed_live_and_not_stored(
        self, triage: Api
    ) -> None:
        ref = assessing(triage, assessment={"risk": {"dash_score": 11}}, **DA_HIGH)
        why = ok(triage.get(f"/api/referrals/{ref['id']}/routing"))
        assert why["stored"] is False
        assert why["rules_would_choose"] == "da-outreach"

    def test_a_provider_named_by_hand_is_recorded_with_what_the_rules_would_choose(
        self, triage: Api
    ) -> None:
        ref = assessing(triage, assessment=DA_HIGH_ASSESSMENT, **DA_HIGH)
        ok(route(triage, ref, provider="core-general"))
        why = ok(triage.get(f"/api/referrals/{ref['id']}/routing"))
        assert why["by_hand"] is True and why["chosen_provider"] == "core-general"
        assert why["rules_would_choose"] == "da-idva"
        assert why["decided_by"] is not None

    def test_the_routing_explanation_is_for_the_triage_unit_only(
        self, triage: Api, sign_in
    ) -> None:
        ref = ok(route(triage, assessing(triage)))
        worker = sign_in("provider", provider="core-general")
        assert worker.get(f"/api/referrals/{ref['id']}/routing").status_code == 403
        assert sign_in("commissioner").get(f"/api/referrals/{ref['id']}/routing").status_code == 403


class TestDeclineAndReRoute:
    def test_declines_walk_the_candidates_then_return_the_referral_to_the_unit(
        self, triage: Api, sign_in
    ) -> None:
        idva = sign_in("provider", provider="da-idva")
        general = sign_in("provider", provider="core-general")
        ref = ok(route(triage, assessing(triage, assessment=DA_HIGH_ASSESSMENT, **DA_HIGH)))
        ref = decline(idva, ref)
        assert ref["state"] == "awaiting_provider"
        assert offered_to(triage, ref["id"]) == "core-general"
        assert idva.get(f"/api/referrals/{ref['id']}").status_code == 404
        ref = decline(general, ref, reason="not_eligible_for_service")
        assert ref["state"] == "assessing"
        why = ok(triage.get(f"/api/referrals/{ref['id']}/routing"))
        assert why["no_route_reason"] == "all_candidates_skipped"
        assert {(s["provider"], s["reason"]) for s in why["skipped"]} == {
            ("da-idva", "already_declined"),
            ("core-general", "already_declined"),
        }
        assert "route" in ok(triage.get(f"/api/referrals/{ref['id']}"))["allowed_events"]

    def test_three_declines_reach_the_fourth_candidate(self, triage: Api, sign_in) -> None:
        workers = {
            code: sign_in("provider", provider=code)
            for code in ("cse-service", "sv-children", "young-people")
        }
        ref = ok(route(triage, assessing(triage, **CSE_17)))
        for code in ("cse-service", "sv-children", "young-people"):
            assert offered_to(triage, ref["id"]) == code
            ref = decline(workers[code], ref)
        assert ref["state"] == "awaiting_provider"
        assert offered_to(triage, ref["id"]) == "core-general"

    def test_with_no_candidate_left_route_answers_409_and_stays_allowed(
        self, triage: Api, sign_in
    ) -> None:
        general = sign_in("provider", provider="core-general")
        ref = decline(general, ok(route(triage, assessing(triage))))
        detail = conflict(route(triage, ref))
        assert detail["failed"] == ["no_candidate"]
        assert "route" in detail["allowed_events"]

    def test_a_declined_provider_named_by_hand_answers_409(self, triage: Api, sign_in) -> None:
        general = sign_in("provider", provider="core-general")
        ref = ok(route(triage, assessing(triage)))
        ref = decline(general, ref, reason="not_eligible_for_service")
        assert conflict(route(triage, ref, provider="core-general"))["failed"] == [
            "already_declined"
        ]
        ref = ok(route(triage, ref, provider="mental-health-hub"))
        assert offered_to(triage, ref["id"]) == "mental-health-hub"

    def test_a_provider_that_declined_for_capacity_may_be_offered_it_again_by_hand(
        self, triage: Api, sign_in
    ) -> None:
        general = sign_in("provider", provider="core-general")
        ref = decline(general, ok(route(triage, assessing(triage))))  # no_capacity
        assert conflict(route(triage, ref))["failed"] == ["no_candidate"]  # not by the rules
        ref = ok(route(triage, ref, provider="core-general"))
        assert offered_to(triage, ref["id"]) == "core-general"
        why = ok(triage.get(f"/api/referrals/{ref['id']}/routing"))
        assert (why["chosen_provider"], why["by_hand"]) == ("core-general", True)

    def test_not_while_it_takes_no_cases(self, triage: Api, sign_in) -> None:
        general = sign_in("provider", provider="core-general")
        ref = decline(general, ok(route(triage, assessing(triage))))  # no_capacity
        ok(general.put("/api/providers/core-general/capacity", {"accepting": False}))
        assert conflict(route(triage, ref, provider="core-general"))["failed"] == [
            "already_declined"
        ]

    def test_a_handed_back_provider_is_not_offered_the_referral_again(
        self, triage: Api, sign_in
    ) -> None:
        general = sign_in("provider", provider="core-general")
        ref = ok(route(triage, assessing(triage)))
        ref = ok(general.event(ref["id"], "accept", ref["version"]))
        ref = ok(general.event(ref["id"], "hand_back", ref["version"], reason="no_capacity"))
        assert conflict(route(triage, ref))["failed"] == ["no_candidate"]


class TestProviderAvailability:
    def test_a_provider_not_accepting_is_skipped_with_its_reason(
        self, triage: Api, sign_in
    ) -> None:
        admin = sign_in("admin")
        ok(admin.put("/api/providers/da-idva/capacity", {"accepting": False, "capacity": None}))
        ref = ok(route(triage, assessing(triage, assessment=DA_HIGH_ASSESSMENT, **DA_HIGH)))
        assert offered_to(triage, ref["id"]) == "core-general"
        why = ok(triage.get(f"/api/referrals/{ref['id']}/routing"))
        assert {
            "provider": "da-idva",
            "rule": "da-high-risk-idva",
            "reason": "not_accepting",
        } in why["skipped"]

    def test_a_provider_at_capacity_is_skipped(self, triage: Api, sign_in) -> None:
        own = sign_in("provider", provider="da-idva")
        ok(own.put("/api/providers/da-idva/capacity", {"accepting": True, "capacity": 0}))
        ref = ok(route(triage, assessing(triage, assessment=DA_HIGH_ASSESSMENT, **DA_HIGH)))
        why = ok(triage.get(f"/api/referrals/{ref['id']}/routing"))
        assert why["skipped"][0]["reason"] == "at_capacity"

    @pytest.mark.parametrize("role", ["triage", "commissioner", "intake"])
    def test_only_admins_and_the_providers_own_workers_set_capacity(self, sign_in, role) -> None:
        body = {"accepting": False, "capacity": 3}
        assert sign_in(role).put("/api/providers/da-idva/capacity", body).status_code == 403
        other = sign_in("provider", provider="core-general")
        assert other.put("/api/providers/da-idva/capacity", body).status_code == 403


class TestPreview:
    BODY = {
        "crime_type": "sexual_offence",
        "area": "derbyshire_county",
        "hate_strands": ["disability"],
        "victim": {"date_of_birth": "1980-01-01"},
        "assessment": {
            "needs": ["emotional_support"],
            "vulnerability": {
                "mental_disorder": True,
                "impaired_intelligence": False,
                "physical_disability": False,
                "intimidated": False,
                "persistently_targeted": False,
                "bereaved": False,
            },
            "restorative_justice_interest": True,
        },
    }

    @pytest.mark.parametrize("role", ["triage", "admin"])
    def test_a_preview_answers_candidates_in_order_and_saves_nothing(self, sign_in, role) -> None:
        answer = ok(sign_in(role).post("/api/routing/preview", self.BODY))
        assert [c["provider"] for c in answer["candidates"]] == [
            "sv-adult",
            "hate-crime",
            "restorative-justice",
            "mental-health-hub",
            "core-general",
        ]
        assert answer["stored"] is False

    def test_a_preview_needs_no_name_and_refuses_an_unknown_area(self, triage: Api) -> None:
        answer = triage.post("/api/routing/preview", {**self.BODY, "area": "atlantis"})
        assert answer.status_code == 422 and "area" in answer.json()["detail"][0]["loc"]

    @pytest.mark.parametrize("role", ["provider", "commissioner", "intake"])
    def test_other_roles_may_not_preview(self, sign_in, role) -> None:
        caller = sign_in(role, provider="core-general" if role == "provider" else None)
        assert caller.post("/api/routing/preview", self.BODY).status_code == 403
