"""ReferralFlow: the referral lifecycle as a python-statemachine StateMachine (DESIGN 3).

The flow is bound to any object with a `state` attribute (the ORM row in the service, a
plain object in unit tests). Events are sent with `facts` (a ReferralFacts) and `fields`
(the event's body, or None to ask about stored data only).

Building a flow registers its callbacks on the instance (about half a millisecond, measured:
a sixth of a deadline sweep's time), so the service asks `flow_for` for one: each thread
builds one flow and moves it from referral to referral.
"""

import threading
from typing import Any

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


class _Holder:
    """What a reused flow is bound to: it reads and writes the state of the object it holds
    (and offers the flow no other attribute to take for a callback)."""

    __slots__ = ("target",)

    def __init__(self, target: Any) -> None:
        self.target = target

    @property
    def state(self) -> Any:
        return self.target.state

    @state.setter
    def state(self, value: Any) -> None:
        self.target.state = value


class _ThreadFlow(threading.local):
    flow: ReferralFlow | None = None
    holder: _Holder | None = None


_THREAD = _ThreadFlow()


def flow_for(target: Any) -> ReferralFlow:
    """The lifecycle on `target` (an object with a `state`): this thread's flow, moved onto
    it. Use it before asking for another; flows are never shared between threads. A flow
    that entered the final state stops taking events, so the next referral gets a new one."""
    if _THREAD.flow is None or _THREAD.holder is None or _THREAD.flow.is_terminated:
        _THREAD.holder = _Holder(target)
        _THREAD.flow = ReferralFlow(_THREAD.holder)
    else:
        _THREAD.holder.target = target
    return _THREAD.flow
