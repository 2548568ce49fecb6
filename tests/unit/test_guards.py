"""The lifecycle guards and their failure codes (DESIGN sections 3, 4 and 7)."""

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from statemachine.exceptions import TransitionNotAllowed

from triage.lifecycle.codes import (
    CLOSURE_REASONS_BEFORE_SUPPORT,
    CLOSURE_REASONS_IN_SUPPORT,
    ClosureReason,
    Event,
    State,
)
from triage.lifecycle.flow import ReferralFlow
from triage.lifecycle.guards import (
    MESSAGES,
    ReferralFacts,
    assessment_complete,
    closure_reason_allowed,
    consent_gate,
    describe,
    enough_contact_attempts,
    failed_guards,
    provider_chosen,
)

MON, TUE, WED = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
BEFORE_SUPPORT_STATES = [
    State.received,
    State.contacting,
    State.assessing,
    State.awaiting_provider,
]


def routable(**overrides: Any) -> ReferralFacts:
    """Facts of an assessing referral that may be routed, changed by `overrides`."""
    values: dict[str, Any] = {
        "state": State.assessing,
        "assessment_gaps": (),
        "consent_required": False,
        "consent_to_share": None,
    }
    return ReferralFacts(**{**values, **overrides})


def closable(state: State, **overrides: Any) -> ReferralFacts:
    values: dict[str, Any] = {
        "state": state,
        "contact_attempt_days": (MON, MON, TUE),
        "min_contact_attempts": 3,
    }
    return ReferralFacts(**{**values, **overrides})


def try_send(facts: ReferralFacts, event: Event, fields: dict[str, Any] | None) -> str:
    """Fire `event` on a referral in `facts.state`; answer the state it ends in."""
    referral = SimpleNamespace(state=facts.state.value)
    ReferralFlow(referral).send(event.value, facts=facts, fields=fields)
    return referral.state


class TestAssessmentComplete:
    def test_a_referral_with_no_assessment_fails_with_assessment_incomplete(self):
        facts = ReferralFacts(state=State.assessing)
        assert assessment_complete(facts, None) == "assessment_incomplete"
        assert failed_guards(Event.route, facts, {"provider": "VSD"}) == ["assessment_incomplete"]

    def test_a_missing_dash_score_fails_with_dash_score_required(self):
        facts = routable(assessment_gaps=("dash_score_required",))
        assert assessment_complete(facts, None) == "dash_score_required"
        assert failed_guards(Event.route, facts, {"provider": "VSD"}) == ["dash_score_required"]

    def test_a_complete_assessment_passes(self):
        assert assessment_complete(routable(), None) is None

    def test_route_is_refused_while_the_assessment_is_incomplete(self):
        with pytest.raises(TransitionNotAllowed):
            try_send(routable(assessment_gaps=("assessment_incomplete",)), Event.route, {})


class TestConsentGate:
    def test_a_crime_needing_explicit_consent_with_no_answer_fails_with_consent_required(self):
        facts = routable(consent_required=True, consent_to_share=None)
        assert consent_gate(facts, None) == "consent_required"
        assert failed_guards(Event.route, facts, {"provider": "VSD"}) == ["consent_required"]

    def test_a_crime_needing_explicit_consent_with_consent_given_passes(self):
        assert consent_gate(routable(consent_required=True, consent_to_share=True), None) is None

    def test_a_refusal_fails_with_consent_refused_when_explicit_consent_is_needed(self):
        facts = routable(consent_required=True, consent_to_share=False)
        assert consent_gate(facts, None) == "consent_refused"

    def test_an_opt_out_fails_with_consent_refused_even_when_consent_is_not_needed(self):
        facts = routable(consent_required=False, consent_to_share=False)
        assert consent_gate(facts, None) == "consent_refused"
        assert failed_guards(Event.route, facts, {"provider": "VSD"}) == ["consent_refused"]

    def test_a_missing_answer_means_no_opt_out_when_consent_is_not_needed(self):
        assert consent_gate(routable(consent_required=False, consent_to_share=None), None) is None

    def test_route_is_refused_without_the_required_consent(self):
        facts = routable(consent_required=True, consent_to_share=None)
        with pytest.raises(TransitionNotAllowed):
            try_send(facts, Event.route, {"provider": "VSD"})


class TestProviderChosen:
    def test_no_provider_named_and_no_candidate_fails_with_no_candidate(self):
        assert provider_chosen(routable(), {}) == "no_candidate"
        assert provider_chosen(routable(), {"provider": None}) == "no_candidate"
        assert failed_guards(Event.route, routable(), {}) == ["no_candidate"]

    def test_a_provider_named_by_hand_passes(self):
        assert provider_chosen(routable(), {"provider": "VSD"}) is None

    def test_the_rules_next_candidate_passes_when_no_provider_is_named(self):
        assert provider_chosen(routable(next_candidate="VSD"), {}) is None

    def test_naming_a_provider_that_already_declined_fails_with_already_declined(self):
        facts = routable(declined_providers=frozenset({"VSD"}))
        assert provider_chosen(facts, {"provider": "VSD"}) == "already_declined"
        assert failed_guards(Event.route, facts, {"provider": "VSD"}) == ["already_declined"]

    def test_a_provider_other_than_the_one_that_declined_passes(self):
        facts = routable(declined_providers=frozenset({"VSD"}))
        assert provider_chosen(facts, {"provider": "SVS"}) is None

    def test_a_declined_next_candidate_fails_with_already_declined(self):
        facts = routable(next_candidate="VSD", declined_providers=frozenset({"VSD"}))
        assert provider_chosen(facts, {}) == "already_declined"

    def test_it_passes_when_asked_about_stored_data_only(self):
        assert provider_chosen(routable(), None) is None

    def test_route_is_refused_for_a_provider_that_already_declined(self):
        facts = routable(declined_providers=frozenset({"VSD"}))
        with pytest.raises(TransitionNotAllowed):
            try_send(facts, Event.route, {"provider": "VSD"})


class TestFailedGuardsOfRoute:
    def test_every_guard_that_stops_route_is_named_in_order(self):
        facts = ReferralFacts(
            state=State.assessing, consent_required=True, declined_providers=frozenset({"VSD"})
        )
        assert failed_guards(Event.route, facts, {"provider": "VSD"}) == [
            "assessment_incomplete",
            "consent_required",
            "already_declined",
        ]

    def test_nothing_is_named_when_every_guard_passes(self):
        assert failed_guards(Event.route, routable(), {"provider": "VSD"}) == []

    @pytest.mark.parametrize(
        "event", [e for e in Event if e not in (Event.route, Event.close)], ids=str
    )
    def test_events_without_guards_never_fail(self, event):
        assert failed_guards(event, ReferralFacts(state=State.received), {}) == []


class TestClosureReasonAllowed:
    @pytest.mark.parametrize("state", BEFORE_SUPPORT_STATES, ids=str)
    @pytest.mark.parametrize("reason", sorted(CLOSURE_REASONS_BEFORE_SUPPORT), ids=str)
    def test_each_before_support_reason_closes_a_referral_before_support(self, state, reason):
        assert closure_reason_allowed(closable(state), {"reason": reason}) is None
        assert try_send(closable(state), Event.close, {"reason": reason}) == State.closed

    @pytest.mark.parametrize("reason", sorted(CLOSURE_REASONS_IN_SUPPORT), ids=str)
    def test_each_in_support_reason_closes_a_referral_in_support(self, reason):
        facts = closable(State.in_support)
        assert closure_reason_allowed(facts, {"reason": reason}) is None
        assert try_send(facts, Event.close, {"reason": reason}) == State.closed

    @pytest.mark.parametrize("state", BEFORE_SUPPORT_STATES, ids=str)
    def test_support_completed_before_support_fails_with_closure_reason_not_allowed(self, state):
        fields = {"reason": "support_completed", "outcomes": {"satisfied": True}}
        assert failed_guards(Event.close, closable(state), fields) == ["closure_reason_not_allowed"]
        with pytest.raises(TransitionNotAllowed):
            try_send(closable(state), Event.close, fields)

    @pytest.mark.parametrize(
        "reason",
        sorted(
            {ClosureReason.support_completed, ClosureReason.disengaged, ClosureReason.moved_away}
        ),
        ids=str,
    )
    def test_in_support_only_reasons_are_not_allowed_while_awaiting_a_provider(self, reason):
        facts = closable(State.awaiting_provider)
        assert closure_reason_allowed(facts, {"reason": reason}) == "closure_reason_not_allowed"

    @pytest.mark.parametrize(
        "reason",
        sorted(CLOSURE_REASONS_BEFORE_SUPPORT - CLOSURE_REASONS_IN_SUPPORT),
        ids=str,
    )
    def test_before_support_only_reasons_are_not_allowed_in_support(self, reason):
        facts = closable(State.in_support)
        assert closure_reason_allowed(facts, {"reason": reason}) == "closure_reason_not_allowed"

    def test_victim_declined_from_in_support_is_refused(self):
        facts = closable(State.in_support)
        assert failed_guards(Event.close, facts, {"reason": "victim_declined"}) == [
            "closure_reason_not_allowed"
        ]
        with pytest.raises(TransitionNotAllowed):
            try_send(facts, Event.close, {"reason": "victim_declined"})

    def test_withdrawn_is_allowed_both_before_and_in_support(self):
        for state in [*BEFORE_SUPPORT_STATES, State.in_support]:
            assert closure_reason_allowed(closable(state), {"reason": "withdrawn"}) is None

    def test_an_unknown_or_missing_reason_is_not_allowed(self):
        facts = closable(State.assessing)
        assert closure_reason_allowed(facts, {"reason": "bored"}) == "closure_reason_not_allowed"
        assert closure_reason_allowed(facts, {}) == "closure_reason_not_allowed"

    def test_it_passes_when_asked_about_stored_data_only(self):
        assert closure_reason_allowed(closable(State.in_support), None) is None


class TestEnoughContactAttempts:
    def test_uncontactable_with_fewer_than_the_minimum_attempts_is_refused(self):
        facts = closable(State.contacting, contact_attempt_days=(MON, TUE))
        fields = {"reason": "uncontactable"}
        assert enough_contact_attempts(facts, fields) == "too_few_contact_attempts"
        assert failed_guards(Event.close, facts, fields) == ["too_few_contact_attempts"]
        with pytest.raises(TransitionNotAllowed):
            try_send(facts, Event.close, fields)

    def test_uncontactable_with_no_attempts_at_all_is_refused(self):
        facts = closable(State.received, contact_attempt_days=())
        fields = {"reason": "uncontactable"}
        assert failed_guards(Event.close, facts, fields) == ["too_few_contact_attempts"]

    def test_uncontactable_with_every_attempt_on_one_day_is_refused(self):
        facts = closable(State.contacting, contact_attempt_days=(MON, MON, MON, MON))
        fields = {"reason": "uncontactable"}
        assert enough_contact_attempts(facts, fields) == "too_few_contact_attempts"
        with pytest.raises(TransitionNotAllowed):
            try_send(facts, Event.close, fields)

    def test_uncontactable_with_three_attempts_on_two_days_closes(self):
        facts = closable(State.contacting, contact_attempt_days=(MON, MON, TUE))
        fields = {"reason": "uncontactable"}
        assert enough_contact_attempts(facts, fields) is None
        assert try_send(facts, Event.close, fields) == State.closed

    def test_uncontactable_with_three_attempts_on_three_days_closes(self):
        facts = closable(State.contacting, contact_attempt_days=(MON, TUE, WED))
        assert enough_contact_attempts(facts, {"reason": "uncontactable"}) is None

    def test_the_configured_minimum_is_respected(self):
        fields = {"reason": "uncontactable"}
        days = (MON, MON, TUE, WED)
        assert (
            enough_contact_attempts(
                closable(State.contacting, contact_attempt_days=days, min_contact_attempts=5),
                fields,
            )
            == "too_few_contact_attempts"
        )
        assert (
            enough_contact_attempts(
                closable(State.contacting, contact_attempt_days=days, min_contact_attempts=4),
                fields,
            )
            is None
        )

    def test_a_minimum_of_one_still_needs_two_days(self):
        facts = closable(State.contacting, contact_attempt_days=(MON,), min_contact_attempts=1)
        assert enough_contact_attempts(facts, {"reason": "uncontactable"}) == (
            "too_few_contact_attempts"
        )

    def test_other_reasons_need_no_contact_attempts(self):
        facts = closable(State.received, contact_attempt_days=())
        assert enough_contact_attempts(facts, {"reason": "victim_declined"}) is None
        assert try_send(facts, Event.close, {"reason": "unsafe_to_contact"}) == State.closed

    def test_it_passes_when_asked_about_stored_data_only(self):
        assert (
            enough_contact_attempts(closable(State.received, contact_attempt_days=()), None) is None
        )

    def test_uncontactable_from_in_support_names_both_failures(self):
        facts = closable(State.in_support, contact_attempt_days=())
        assert failed_guards(Event.close, facts, {"reason": "uncontactable"}) == [
            "closure_reason_not_allowed",
            "too_few_contact_attempts",
        ]


class TestMessages:
    GUARD_CODES = [
        "assessment_incomplete",
        "dash_score_required",
        "consent_required",
        "consent_refused",
        "no_candidate",
        "already_declined",
        "closure_reason_not_allowed",
        "too_few_contact_attempts",
        "stale_version",
    ]

    @pytest.mark.parametrize("code", GUARD_CODES)
    def test_every_failure_code_has_a_message_in_words(self, code):
        assert MESSAGES[code]
        assert describe([code]) == MESSAGES[code]

    def test_several_failures_are_described_together_in_order(self):
        text = describe(["consent_required", "no_candidate"])
        assert text == f"{MESSAGES['consent_required']}; {MESSAGES['no_candidate']}"

    def test_an_unknown_code_is_described_by_itself(self):
        assert describe(["mystery"]) == "mystery"
