"""ReferralFlow: the referral lifecycle as a python-statemachine StateMachine (DESIGN 3).

The flow is bound to any object with a `state` attribute (the ORM row in the service, a
plain object in unit tests). Events are sent with `facts` (a ReferralFacts) and `fields`
(the event's body, or None to ask about stored data only).
"""

from statemachine import State, StateMachine

from triage.lifecycle.guards import Fields, ReferralFacts, failed_guards


class ReferralFlow(StateMachine):
    received = State(initial=True)
    contacting = State()
    assessing = State()
    awaiting_provider = State()
    in_support = State()
    closed = State(final=True)

    log_contact_attempt = received.to(contacting) | contacting.to.itself()
    contact_made = received.to(assessing) | contacting.to(assessing)
    route = assessing.to(awaiting_provider, cond="guards_pass")
    accept = awaiting_provider.to(in_support)
    decline = awaiting_provider.to.itself(cond="has_next_candidate") | awaiting_provider.to(
        assessing, unless="has_next_candidate"
    )
    expire = awaiting_provider.to.itself(cond="has_next_candidate") | awaiting_provider.to(
        assessing, unless="has_next_candidate"
    )
    hand_back = in_support.to(assessing)
    consent_withdrawn = awaiting_provider.to(assessing)
    close = (
        received.to(closed, cond="guards_pass")
        | contacting.to(closed, cond="guards_pass")
        | assessing.to(closed, cond="guards_pass")
        | awaiting_provider.to(closed, cond="guards_pass")
        | in_support.to(closed, cond="guards_pass")
    )

    def guards_pass(self, event: str, facts: ReferralFacts, fields: Fields = None) -> bool:
        return not failed_guards(event, facts, fields)  # type: ignore[arg-type]

    def has_next_candidate(self, facts: ReferralFacts) -> bool:
        return facts.next_candidate is not None
