"""Firing lifecycle events: checks in the order DESIGN 4 fixes, then the change and its audit.

403 (role never fires it) -> 404 (out of scope) -> 422 (body) -> 409 (stale version, not
allowed now, a guard failed): the first three are the route's dependencies; what is left is
here. The state change, its rows and its audit event share one transaction; the referral's
`version` is the optimistic lock.
"""

from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from triage.audit import service as audit
from triage.caller import Caller
from triage.db import writing_behind
from triage.errors import Conflict, Forbidden, InvalidInput
from triage.lifecycle.codes import EVENTS_BY_ROLE, Event, OfferAnswer, Role, State
from triage.lifecycle.flow import flow_for
from triage.lifecycle.guards import describe, failed_guards
from triage.providers import repository as provider_repository
from triage.referrals import offers, repository
from triage.referrals.context import ReferralContext, provider_events
from triage.referrals.entitlements import evaluate_change, log_change
from triage.referrals.models import ContactAttempt, Offer
from triage.referrals.schemas import EventBody
from triage.routing.engine import Decision

# Events that decide where the referral goes next.
ROUTED_EVENTS = frozenset({Event.route, Event.decline, Event.expire})


class EventRefused(Conflict):
    """The event cannot be fired now; `failed` names why, `allowed_events` what can."""


def check_role(caller: Caller, event: Event) -> None:
    """403 for an event the caller's role never fires (before the referral is looked up)."""
    if event not in EVENTS_BY_ROLE.get(caller.role, frozenset()):
        raise Forbidden(f"the {caller.role.value} role may not fire {event.value}")


def fire_event(
    session: Session,
    *,
    context: ReferralContext,
    caller: Caller,
    event: Event,
    body: EventBody,
    now: datetime,
) -> ReferralContext:
    """Fire one lifecycle event on a referral loaded for update, answering it after."""
    check_role(caller, event)
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
    flow = flow_for(referral)
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
    _note_return(context, event, now)
    detail = {**fields, **_side_effects(session, context, caller, event, fields, now)}
    evaluation, stored = evaluate_change(context, now=now)
    record_change(
        session,
        context=context,
        caller=caller,
        action=event.value,
        from_state=before,
        detail=detail,
        now=now,
    )
    # This event's new rows were appended: keep the loaders' order (oldest first).
    context.offers.sort(key=lambda pair: (pair[0].offered_at, pair[0].id))
    context.attempts.sort(key=lambda attempt: (attempt.at, attempt.id))
    log_change(
        session,
        context=context,
        evaluation=evaluation,
        stored=stored,
        caller=caller,
        trigger=event.value,
        now=now,
    )


def record_change(
    session: Session,
    *,
    context: ReferralContext,
    caller: Caller,
    action: str,
    from_state: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    """Bump the referral's version (its optimistic lock), write it, and audit the change.

    In a `write_behind` block (a sweep's batch, its referrals read FOR UPDATE) the row is
    written with the batch's; a stale version there fails the batch, which rolls back.
    """
    referral = context.referral
    version_read = referral.version
    referral.version = version_read + 1
    referral.updated_at = now
    try:
        if not writing_behind(session):
            session.flush()
    except StaleDataError:
        # The row is read FOR UPDATE, so this is a safety net, not the usual path.
        raise EventRefused(
            describe(["stale_version"]),
            state=from_state,
            version=version_read,
            allowed_events=[],
            failed=["stale_version"],
        ) from None
    audit.record(
        session,
        caller=caller,
        action=action,
        now=now,
        referral_id=referral.id,
        from_state=from_state,
        to_state=referral.state,
        version=referral.version,
        detail=detail,
    )


def refuse(context: ReferralContext, caller: Caller, failed: list[str]) -> NoReturn:
    """409: the referral as it stands, what stopped the change, and what may be done now."""
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
    provider = fields.get("provider") if event == Event.route else None
    if provider is not None and provider_repository.id_of(session, provider) is None:
        raise InvalidInput(f"unknown provider {provider!r}", field=("body", "provider"))
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
    offers.keep_load_in_step(session, context, event)
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
            repository.add(session, attempt)
            context.attempts.append(attempt)
        case Event.route:
            return offers.offer_next(session, context, caller, event, fields.get("provider"), now)
        case Event.accept:
            offer = _open(open_offer, event)
            _answer(offer, OfferAnswer.accepted, caller, now)
            referral.holder_provider_id = offer.provider_id
        case Event.decline | Event.expire:
            offer = _open(open_offer, event)
            answer = OfferAnswer.declined if event == Event.decline else OfferAnswer.expired
            _answer(offer, answer, caller, now, fields.get("reason", "no_response"))
            offer.note = fields.get("note")
            return offers.offer_next(session, context, caller, event, None, now)
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
            offer = _open(open_offer, event)
            _answer(offer, OfferAnswer.withdrawn, caller, now, "consent_withdrawn")
    return {}


# A provider gives a referral back by declining or letting the offer expire with nobody left
# to offer it to, or by handing it back; the unit's queue shows it first until it is routed
# again or closed (and the sweep raises one `returned_to_unit` alert).
RETURNS = frozenset({Event.decline, Event.expire, Event.hand_back})


def _note_return(context: ReferralContext, event: Event, now: datetime) -> None:
    referral = context.referral
    if event in RETURNS and referral.state == State.assessing:
        referral.returned_at = now
    elif event in (Event.route, Event.close) and referral.returned_at is not None:
        referral.returned_at = None


def _open(offer: Offer | None, event: Event) -> Offer:
    """The open offer an event answers; the state machine allows the event only with one."""
    if offer is None:
        raise RuntimeError(f"{event.value} was allowed with no open offer")
    return offer


def _decide(session: Session, context: ReferralContext, event: Event) -> Decision:
    """The rules' choice now; a declined or expired offer's provider is out of the running."""
    also_excluded = {}
    if event != Event.route and context.open_offer is not None:
        also_excluded[context.open_offer[1]] = (
            "already_declined" if event == Event.decline else "expired"
        )
    return offers.decide(session, context, also_excluded=also_excluded)


def _answer(
    offer: Offer, answer: OfferAnswer, caller: Caller, now: datetime, reason: str | None = None
) -> None:
    offer.answer = answer.value
    offer.answered_at = now
    offer.answered_by = caller.user_id
    offer.reason = reason
