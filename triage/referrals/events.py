"""Firing lifecycle events: checks in the order DESIGN 4 fixes, then the change and its audit.

403 (role never fires it) -> 404 (out of scope) -> 422 (body) -> 409 (stale version, not
allowed now, a guard failed). The state change, its rows and its audit event share one
transaction; the referral's `version` is the optimistic lock.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from triage.audit import service as audit
from triage.auth.service import Caller
from triage.config import Settings
from triage.errors import Conflict, Forbidden, InvalidInput, NotFound, parse_body
from triage.lifecycle.codes import EVENTS_BY_ROLE, Event, OfferAnswer, Role
from triage.lifecycle.flow import ReferralFlow
from triage.lifecycle.guards import describe, failed_guards
from triage.notifications.outbox import enqueue
from triage.providers import service as provider_service
from triage.referrals.context import ReferralContext, load, provider_events
from triage.referrals.models import ContactAttempt, Offer
from triage.referrals.schemas import EVENT_BODIES, EventBody
from triage.routing import service as routing_service
from triage.routing.engine import Decision
from triage.vcop import service as vcop_service


class EventRefused(Conflict):
    """The event cannot be fired now; `failed` names why, `allowed_events` what can."""


def fire_event(
    session: Session,
    *,
    caller: Caller,
    referral_id: UUID,
    event: Event,
    payload: bytes,
    now: datetime,
    settings: Settings,
) -> ReferralContext:
    """Fire one lifecycle event on behalf of `caller`, answering the referral after it."""
    if event not in EVENTS_BY_ROLE.get(caller.role, frozenset()):
        raise Forbidden(f"the {caller.role.value} role may not fire {event.value}")
    context = load(
        session, caller=caller, referral_id=referral_id, settings=settings, for_update=True
    )
    body = parse_body(EVENT_BODIES[event.value], payload)
    check_fields(session, context, event, body, now)
    apply_event(session, context=context, caller=caller, event=event, body=body, now=now)
    return context


def apply_event(
    session: Session,
    *,
    context: ReferralContext,
    caller: Caller,
    event: Event,
    body: EventBody,
    now: datetime,
) -> None:
    """Check version, state and guards, then change the referral (also used by sweeps)."""
    referral = context.referral
    fields = body.model_dump(mode="json", exclude={"version"}, exclude_none=True)
    if body.version != referral.version:
        refuse(context, caller, ["stale_version"])
    facts = context.facts()
    if caller.role == Role.provider and event not in provider_events(facts, caller.provider_code):
        refuse(context, caller, ["not_allowed_in_state"])
    flow = ReferralFlow(referral)
    if event.value not in {e.id for e in flow.allowed_events}:
        refuse(context, caller, ["not_allowed_in_state"])
    if event in ROUTED_EVENTS:
        context.decision = _decide(session, context, event)
        facts = context.facts()
    failed = failed_guards(event, facts, fields)
    if failed:
        refuse(context, caller, failed)
    before = referral.state
    flow.send(event.value, facts=facts, fields=fields)
    detail = {**fields, **_side_effects(session, context, caller, event, fields, now)}
    referral.version = referral.version + 1
    referral.updated_at = now
    try:
        session.flush()
    except StaleDataError:
        # The row is read FOR UPDATE, so this is a safety net, not the usual path.
        raise EventRefused(
            describe(["stale_version"]),
            state=before,
            version=body.version,
            allowed_events=[],
            failed=["stale_version"],
        ) from None
    audit.record(
        session,
        caller=caller,
        action=event.value,
        now=now,
        referral_id=referral.id,
        from_state=before,
        to_state=referral.state,
        version=referral.version,
        detail=detail,
    )
    # This event's new rows were appended: keep the loaders' order (oldest first).
    context.offers.sort(key=lambda pair: (pair[0].offered_at, pair[0].id))
    context.attempts.sort(key=lambda attempt: (attempt.at, attempt.id))
    vcop_service.reevaluate(session, context=context, caller=caller, trigger=event.value, now=now)


def refuse(context: ReferralContext, caller: Caller, failed: list[str]) -> None:
    raise EventRefused(
        describe(failed),
        state=context.referral.state,
        version=context.referral.version,
        allowed_events=context.allowed_events(caller),
        failed=failed,
    )


def check_fields(
    session: Session, context: ReferralContext, event: Event, body: EventBody, now: datetime
) -> None:
    """Checks of the body that need stored data or the clock (422 naming the field)."""
    fields = body.model_dump(mode="json", exclude={"version"}, exclude_none=True)
    if event == Event.route and "provider" in fields:
        try:
            provider_service.get_provider(session, code=fields["provider"])
        except NotFound:
            raise InvalidInput(
                f"unknown provider {fields['provider']!r}", field=("body", "provider")
            ) from None
    if event == Event.log_contact_attempt and "at" in fields:
        at = datetime.fromisoformat(fields["at"])
        if at > now:
            raise InvalidInput("a contact attempt cannot be in the future", field=("body", "at"))
        if at < context.referral.received_at - timedelta(days=1):
            raise InvalidInput(
                "a contact attempt cannot be before the referral was received",
                field=("body", "at"),
            )


def _side_effects(
    session: Session,
    context: ReferralContext,
    caller: Caller,
    event: Event,
    fields: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Rows that go with the transition; answers what the audit detail should add."""
    referral = context.referral
    open_offer = context.open_offer[0] if context.open_offer else None
    _keep_load_in_step(session, context, event)
    match event:
        case Event.log_contact_attempt | Event.contact_made:
            at = datetime.fromisoformat(fields["at"]) if "at" in fields else now
            attempt = ContactAttempt(
                referral_id=referral.id,
                at=at,
                channel=fields["channel"],
                outcome=fields.get("outcome"),
                made_contact=event == Event.contact_made,
                recorded_by=caller.user_id,
            )
            session.add(attempt)
            context.attempts.append(attempt)
        case Event.route:
            return _offer_next(session, context, caller, event, fields.get("provider"), now)
        case Event.accept:
            assert open_offer is not None
            _answer(open_offer, OfferAnswer.accepted, caller, now)
            referral.holder_provider_id = open_offer.provider_id
        case Event.decline | Event.expire:
            assert open_offer is not None
            answer = OfferAnswer.declined if event == Event.decline else OfferAnswer.expired
            _answer(open_offer, answer, caller, now, fields.get("reason", "no_response"))
            open_offer.note = fields.get("note")
            return _offer_next(session, context, caller, event, None, now)
        case Event.hand_back:
            held = next(o for o, _ in reversed(context.offers) if o.answer == OfferAnswer.accepted)
            held.handed_back_at = now
            held.hand_back_reason = fields["reason"]
            held.hand_back_note = fields.get("note")
            referral.holder_provider_id = None
        case Event.close:
            if open_offer is not None:
                _answer(open_offer, OfferAnswer.withdrawn, caller, now, "referral_closed")
            referral.closure_reason = fields["reason"]
            referral.outcomes = fields.get("outcomes")
            referral.closed_at = now
        case Event.consent_withdrawn:
            assert open_offer is not None
            _answer(open_offer, OfferAnswer.withdrawn, caller, now, "consent_withdrawn")
    return {}


ROUTED_EVENTS = frozenset({Event.route, Event.decline, Event.expire})


def _decide(session: Session, context: ReferralContext, event: Event) -> Decision:
    """The rules' choice now; a declined or expired offer's provider is out of the running."""
    also_excluded = {}
    if event != Event.route and context.open_offer is not None:
        also_excluded[context.open_offer[1]] = (
            "already_declined" if event == Event.decline else "expired"
        )
    return routing_service.decide_for(
        session, context, context.settings, also_excluded=also_excluded
    )


def _offer_next(
    session: Session,
    context: ReferralContext,
    caller: Caller,
    event: Event,
    by_hand: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Offer the named provider or the rules' first candidate, and keep the decision."""
    decision = context.decision
    assert decision is not None
    chosen = by_hand or decision.first
    routing_service.store_decision(
        session,
        context=context,
        decision=decision,
        trigger=event.value,
        caller=caller,
        chosen=chosen,
        by_hand=by_hand is not None,
        now=now,
    )
    if chosen is None:
        return {"offered_to": None, "no_route_reason": decision.no_route_reason}
    provider = routing_service.provider_to_offer(session, chosen)
    respond_by = now + timedelta(hours=provider.respond_by_hours)
    offer = Offer(
        referral_id=context.referral.id,
        provider_id=provider.id,
        offered_at=now,
        offered_by=caller.user_id,
        respond_by=respond_by,
        rule_set_hash=decision.rule_set_hash,
    )
    session.add(offer)
    context.offers.append((offer, chosen))
    routing_service.adjust_load(session, chosen, +1)
    if provider.notify_address:
        _announce_offer(session, context, provider.notify_address, respond_by, now)
    rule = next((c.rule for c in decision.candidates if c.provider == chosen), None)
    return {
        "offered_to": chosen,
        "by_hand": by_hand is not None,
        "rule": rule,
        "rules_would_choose": decision.first,
    }


def _keep_load_in_step(session: Session, context: ReferralContext, event: Event) -> None:
    """An open offer or a held case counts towards a provider's load until it ends."""
    offered_to = context.open_offer[1] if context.open_offer else None
    if event in (Event.decline, Event.expire, Event.consent_withdrawn) or (
        event == Event.close and offered_to
    ):
        routing_service.adjust_load(session, offered_to, -1)
    elif event == Event.hand_back or (event == Event.close and context.holder_code):
        routing_service.adjust_load(session, context.holder_code, -1)


def _announce_offer(
    session: Session, context: ReferralContext, address: str, respond_by: datetime, now: datetime
) -> None:
    """Tell the provider's team of a new offer: the reference, a link and when to answer by."""
    referral = context.referral
    link = f"{context.settings.public_base_url}/api/referrals/{referral.id}"
    enqueue(
        session,
        kind="offer",
        recipient=address,
        subject=f"New referral offered: {referral.reference}",
        body=f"Referral {referral.reference} is offered to you.\n"
        f"Please accept or decline by {respond_by.isoformat()}.\nOpen: {link}\n",
        now=now,
        referral_id=referral.id,
    )


def _answer(
    offer: Offer, answer: OfferAnswer, caller: Caller, now: datetime, reason: str | None = None
) -> None:
    offer.answer = answer.value
    offer.answered_at = now
    offer.answered_by = caller.user_id
    offer.reason = reason
