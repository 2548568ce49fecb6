"""ReferralFlow against the lifecycle of DESIGN section 3: legal and illegal transitions."""

import threading
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statemachine.exceptions import TransitionNotAllowed

from triage.lifecycle.codes import Event, State
from triage.lifecycle.flow import ReferralFlow, flow_for
from triage.lifecycle.guards import ReferralFacts, failed_guards

# Facts under which every guard on stored data passes.
PASSING = {
    "assessment_gaps": (),
    "consent_required": False,
    "consent_to_share": True,
    "contact_attempt_days": (date(2026, 1, 5), date(2026, 1, 5), date(2026, 1, 6)),
}

# The legal events of each state, read from the diagram in DESIGN section 3.
LEGAL: dict[State, frozenset[Event]] = {
    State.received: frozenset({Event.log_contact_attempt, Event.contact_made, Event.close}),
    State.contacting: frozenset({Event.log_contact_attempt, Event.contact_made, Event.close}),
    State.assessing: frozenset({Event.route, Event.close}),
    State.awaiting_provider: frozenset(
        {Event.accept, Event.decline, Event.expire, Event.consent_withdrawn, Event.close}
    ),
    State.in_support: frozenset({Event.hand_back, Event.close}),
    State.closed: frozenset(),
}

# Fields that satisfy the event-field guards of each event.
GOOD_FIELDS: dict[Event, dict[str, Any]] = {
    Event.log_contact_attempt: {"channel": "phone", "outcome": "no_answer"},
    Event.contact_made: {"channel": "phone"},
    Event.route: {"provider": "VSD"},
    Event.accept: {},
    Event.decline: {"reason": "no_capacity"},
    Event.expire: {"reason": "no_response"},
    Event.hand_back: {"reason": "no_capacity"},
    Event.consent_withdrawn: {},
    Event.close: {"reason": "withdrawn"},  # allowed both before and in support
}


def facts_for(state: State, **overrides: Any) -> ReferralFacts:
    return ReferralFacts(state=state, **{**PASSING, **overrides})


def flow_in(state: State) -> tuple[ReferralFlow, SimpleNamespace]:
    referral = SimpleNamespace(state=state.value)
    return ReferralFlow(referral), referral


def fire(
    state: State, event: Event, fields: dict[str, Any] | None = None, **facts: Any
) -> SimpleNamespace:
    flow, referral = flow_in(state)
    flow.send(event.value, facts=facts_for(state, **facts), fields=fields)
    return referral


LEGAL_TRANSITIONS = [
    # (from, event, fields, facts overrides, to)
    (State.received, Event.log_contact_attempt, None, {}, State.contacting),
    (State.contacting, Event.log_contact_attempt, None, {}, State.contacting),
    (State.received, Event.contact_made, None, {}, State.assessing),
    (State.contacting, Event.contact_made, None, {}, State.assessing),
    (State.assessing, Event.route, {"provider": "VSD"}, {}, State.awaiting_provider),
    (State.assessing, Event.route, {}, {"next_candidate": "VSD"}, State.awaiting_provider),
    (State.awaiting_provider, Event.accept, None, {}, State.in_support),
    (State.awaiting_provider, Event.decline, {"reason": "no_capacity"}, {}, State.assessing),
    (
        State.awaiting_provider,
        Event.decline,
        {"reason": "no_capacity"},
        {"next_candidate": "SVS"},
        State.awaiting_provider,
    ),
    (State.awaiting_provider, Event.expire, None, {}, State.assessing),
    (
        State.awaiting_provider,
        Event.expire,
        None,
        {"next_candidate": "SVS"},
        State.awaiting_provider,
    ),
    (State.in_support, Event.hand_back, {"reason": "other", "note": "x"}, {}, State.assessing),
    (State.awaiting_provider, Event.consent_withdrawn, None, {}, State.assessing),
    (State.received, Event.close, {"reason": "duplicate"}, {}, State.closed),
    (State.contacting, Event.close, {"reason": "victim_declined"}, {}, State.closed),
    (State.assessing, Event.close, {"reason": "information_only"}, {}, State.closed),
    (State.awaiting_provider, Event.close, {"reason": "out_of_area"}, {}, State.closed),
    (
        State.in_support,
        Event.close,
        {"reason": "support_completed", "outcomes": {"feel_safer": True}},
        {},
        State.closed,
    ),
]


class TestLegalTransitions:
    @pytest.mark.parametrize(
        ("source", "event", "fields", "facts", "target"),
        LEGAL_TRANSITIONS,
        ids=[f"{s}-{e}-to-{t}" for s, e, _, f, t in LEGAL_TRANSITIONS],
    )
    def test_each_legal_event_moves_the_referral_to_the_state_the_design_names(
        self, source, event, fields, facts, target
    ):
        assert fire(source, event, fields, **facts).state == target

    def test_the_table_covers_every_legal_state_and_event_pair_of_the_design(self):
        covered = {(source, event) for source, event, *_ in LEGAL_TRANSITIONS}
        expected = {(state, event) for state, events in LEGAL.items() for event in events}
        assert covered == expected

    def test_a_new_flow_over_an_object_without_a_state_starts_received(self):
        referral = SimpleNamespace(state=None)
        ReferralFlow(referral)
        assert referral.state == State.received

    def test_contact_attempts_can_be_logged_again_and_again_while_contacting(self):
        flow, referral = flow_in(State.received)
        facts = facts_for(State.contacting)
        for _ in range(4):
            flow.send("log_contact_attempt", facts=facts, fields=None)
        assert referral.state == State.contacting

    def test_a_whole_journey_from_received_to_closed_after_support(self):
        flow, referral = flow_in(State.received)
        steps = [
            ("log_contact_attempt", State.received, None),
            ("contact_made", State.contacting, {"channel": "phone"}),
            ("route", State.assessing, {"provider": "VSD"}),
            ("decline", State.awaiting_provider, {"reason": "no_capacity"}),
            ("route", State.assessing, {"provider": "SVS"}),
            ("accept", State.awaiting_provider, {}),
            ("hand_back", State.in_support, {"reason": "outside_area"}),
            ("route", State.assessing, {"provider": "GEN"}),
            ("accept", State.awaiting_provider, {}),
            ("close", State.in_support, {"reason": "support_completed"}),
        ]
        for event, state, fields in steps:
            assert referral.state == state
            flow.send(event, facts=facts_for(state), fields=fields)
        assert referral.state == State.closed


ILLEGAL_SAMPLE = [
    (State.received, Event.route),
    (State.received, Event.accept),
    (State.received, Event.hand_back),
    (State.contacting, Event.route),
    (State.contacting, Event.decline),
    (State.assessing, Event.accept),
    (State.assessing, Event.decline),
    (State.assessing, Event.expire),
    (State.assessing, Event.contact_made),
    (State.assessing, Event.log_contact_attempt),
    (State.assessing, Event.consent_withdrawn),
    (State.awaiting_provider, Event.hand_back),
    (State.awaiting_provider, Event.route),
    (State.awaiting_provider, Event.contact_made),
    (State.in_support, Event.accept),
    (State.in_support, Event.decline),
    (State.in_support, Event.route),
    (State.in_support, Event.consent_withdrawn),
    (State.closed, Event.close),
    (State.closed, Event.log_contact_attempt),
    (State.closed, Event.contact_made),
    (State.closed, Event.route),
    (State.closed, Event.accept),
    (State.closed, Event.hand_back),
]

ALL_ILLEGAL = [(state, event) for state in State for event in Event if event not in LEGAL[state]]


class TestIllegalTransitions:
    @pytest.mark.parametrize(
        ("state", "event"), ILLEGAL_SAMPLE, ids=[f"{s}-{e}" for s, e in ILLEGAL_SAMPLE]
    )
    def test_an_event_the_design_does_not_allow_is_refused_and_changes_nothing(self, state, event):
        flow, referral = flow_in(state)
        with pytest.raises(TransitionNotAllowed):
            flow.send(
                event.value,
                facts=facts_for(state, next_candidate="VSD"),
                fields=GOOD_FIELDS[event],
            )
        assert referral.state == state

    @pytest.mark.parametrize(
        ("state", "event"), ALL_ILLEGAL, ids=[f"{s}-{e}" for s, e in ALL_ILLEGAL]
    )
    def test_every_state_and_event_pair_outside_the_design_is_refused(self, state, event):
        flow, referral = flow_in(state)
        with pytest.raises(TransitionNotAllowed):
            flow.send(event.value, facts=facts_for(state), fields=GOOD_FIELDS[event])
        assert referral.state == state

    def test_a_closed_referral_never_reopens(self):
        flow, _ = flow_in(State.closed)
        assert flow.enabled_events(facts=facts_for(State.closed), fields=None) == []


class TestEnabledEvents:
    @pytest.mark.parametrize("state", list(State), ids=[s.value for s in State])
    def test_with_stored_guards_passing_the_enabled_events_are_the_legal_ones(self, state):
        flow, _ = flow_in(state)
        enabled = {e.id for e in flow.enabled_events(facts=facts_for(state), fields=None)}
        assert enabled == {e.value for e in LEGAL[state]}

    def test_route_is_listed_with_no_provider_named_and_no_candidate_left(self):
        flow, _ = flow_in(State.assessing)
        facts = facts_for(State.assessing, next_candidate=None)
        enabled = {e.id for e in flow.enabled_events(facts=facts, fields=None)}
        assert "route" in enabled

    def test_route_with_no_provider_and_no_candidate_is_refused_and_stays_allowed(self):
        flow, referral = flow_in(State.assessing)
        facts = facts_for(State.assessing, next_candidate=None)
        with pytest.raises(TransitionNotAllowed):
            flow.send("route", facts=facts, fields={})
        assert failed_guards(Event.route, facts, {}) == ["no_candidate"]
        assert referral.state == State.assessing
        assert "route" in {e.id for e in flow.enabled_events(facts=facts, fields=None)}

    def test_route_is_not_listed_while_the_assessment_is_incomplete(self):
        flow, _ = flow_in(State.assessing)
        facts = facts_for(State.assessing, assessment_gaps=("assessment_incomplete",))
        assert {e.id for e in flow.enabled_events(facts=facts, fields=None)} == {"close"}

    def test_route_is_not_listed_while_a_dash_score_is_missing(self):
        flow, _ = flow_in(State.assessing)
        facts = facts_for(State.assessing, assessment_gaps=("dash_score_required",))
        assert "route" not in {e.id for e in flow.enabled_events(facts=facts, fields=None)}

    def test_route_is_not_listed_while_explicit_consent_is_awaited(self):
        flow, _ = flow_in(State.assessing)
        facts = facts_for(State.assessing, consent_required=True, consent_to_share=None)
        assert "route" not in {e.id for e in flow.enabled_events(facts=facts, fields=None)}

    def test_route_is_not_listed_when_the_victim_refused_consent(self):
        flow, _ = flow_in(State.assessing)
        facts = facts_for(State.assessing, consent_to_share=False)
        assert "route" not in {e.id for e in flow.enabled_events(facts=facts, fields=None)}

    def test_close_is_listed_before_a_reason_is_given_even_with_no_contact_attempts(self):
        flow, _ = flow_in(State.received)
        facts = facts_for(State.received, contact_attempt_days=())
        assert "close" in {e.id for e in flow.enabled_events(facts=facts, fields=None)}

    def test_decline_and_expire_are_listed_whether_or_not_a_candidate_is_left(self):
        for candidate in (None, "SVS"):
            flow, _ = flow_in(State.awaiting_provider)
            facts = facts_for(State.awaiting_provider, next_candidate=candidate)
            enabled = {e.id for e in flow.enabled_events(facts=facts, fields=None)}
            assert {"decline", "expire"} <= enabled


class TestOneFlowPerThread:
    """`flow_for` moves one flow from referral to referral; it must answer and change each
    exactly as a new flow on that referral would."""

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.integers(0, 3),
                st.sampled_from(list(Event)),
                st.one_of(st.none(), st.just("SVS")),
            ),
            max_size=30,
        )
    )
    def test_a_reused_flow_agrees_with_a_new_flow_on_every_referral(self, steps):
        reused = [SimpleNamespace(state=State.received.value) for _ in range(4)]
        fresh = [SimpleNamespace(state=State.received.value) for _ in range(4)]
        for index, event, next_candidate in steps:
            facts = facts_for(State(reused[index].state), next_candidate=next_candidate)
            outcomes = []
            for flow, referral in (
                (flow_for(reused[index]), reused[index]),
                (ReferralFlow(fresh[index]), fresh[index]),
            ):
                allowed = sorted(e.id for e in flow.allowed_events)
                try:
                    flow.send(event.value, facts=facts, fields=GOOD_FIELDS[event])
                    refused = False
                except TransitionNotAllowed:
                    refused = True
                outcomes.append((allowed, refused, referral.state))
            assert outcomes[0] == outcomes[1]
        assert [r.state for r in reused] == [r.state for r in fresh]

    def test_a_flow_that_closed_a_referral_is_not_moved_onto_the_next(self):
        closing = SimpleNamespace(state=State.assessing.value)
        flow = flow_for(closing)
        flow.send("close", facts=facts_for(State.assessing), fields={"reason": "duplicate"})
        assert closing.state == State.closed and flow.is_terminated
        following = SimpleNamespace(state=State.received.value)
        again = flow_for(following)
        assert again is not flow
        again.send("log_contact_attempt", facts=facts_for(State.received), fields=None)
        assert following.state == State.contacting

    def test_each_thread_has_a_flow_of_its_own(self):
        flows: list[ReferralFlow] = []
        threads = [
            threading.Thread(
                target=lambda: flows.append(flow_for(SimpleNamespace(state="received")))
            )
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        mine = flow_for(SimpleNamespace(state="received"))
        assert len({id(flows[0]), id(flows[1]), id(mine)}) == 3
