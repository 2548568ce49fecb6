"""Offering a referral to providers: the rules' decision with the providers' live status,
the offer and its notice, and each provider's load kept in step.

A provider's load is its cases in support plus its open offers: counted once per session (a
request's transaction; a deadline sweep's batches, hundreds of referrals each, share one) and
kept in step within it as its offers are made and answered. What other sessions change
meanwhile is counted by the next session: a sweep's count is at most its few seconds old.
"""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from triage.caller import Caller
from triage.lifecycle.codes import Event
from triage.notifications import service as notifications
from triage.providers import repository as provider_repository
from triage.providers import service as provider_service
from triage.providers.models import Provider
from triage.referrals import repository
from triage.referrals.context import ReferralContext
from triage.referrals.models import Offer
from triage.routing import service as routing_service
from triage.routing.engine import Decision, ProviderStatus, RoutingInput
from triage.rule_sources import RuleSources

_STATUSES = "triage.referrals.offers.provider_statuses"
_PROVIDERS = "triage.referrals.offers.providers"


def provider_statuses(session: Session) -> dict[str, ProviderStatus]:
    """Every provider with its live availability, counted once per session."""
    cached: dict[str, ProviderStatus] | None = session.info.get(_STATUSES)
    if cached is None:
        providers = provider_repository.all_providers(session)
        session.info[_PROVIDERS] = {p.code: p for p in providers}
        held = repository.held_case_counts(session)
        offered = repository.open_offer_counts(session)
        cached = session.info[_STATUSES] = {
            p.code: ProviderStatus.of(p, load=held.get(p.id, 0) + offered.get(p.id, 0))
            for p in providers
        }
    return cached


def adjust_load(session: Session, provider_code: str | None, delta: int) -> None:
    """Keep the transaction's counted load in step with an offer made or ended here."""
    statuses: dict[str, ProviderStatus] | None = session.info.get(_STATUSES)
    if statuses is None or provider_code not in statuses:
        return
    status = statuses[provider_code]
    statuses[provider_code] = replace(status, load=max(status.load + delta, 0))


def provider_to_offer(session: Session, code: str) -> Provider:
    """The chosen provider's row: the one read with the transaction's statuses, if it was."""
    providers: dict[str, Provider] = session.info.get(_PROVIDERS, {})
    if code in providers:
        return providers[code]
    return provider_service.get_provider(session, code=code)


def decide(
    session: Session, context: ReferralContext, *, also_excluded: dict[str, str] | None = None
) -> Decision:
    """A fresh decision for a stored referral under the current rules; providers whose offer
    ended under them are out of the running, with `also_excluded`."""
    engine = context.rules.engine
    excluded = {**context.ended_offers(engine.hash), **(also_excluded or {})}
    statuses = provider_statuses(session)
    context.accepting = frozenset(code for code, status in statuses.items() if status.accepting)
    return engine.decide(context.routing_input(), statuses, excluded)


def preview(session: Session, *, rules: RuleSources, shape: RoutingInput) -> Decision:
    """The decision the current rules would make for a referral's shape (saved nowhere)."""
    return rules.engine.decide(shape, provider_statuses(session))


def offer_next(
    session: Session,
    context: ReferralContext,
    caller: Caller,
    event: Event,
    by_hand: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Offer the named provider or the rules' first candidate, and keep the decision;
    answers what the event's audit detail adds."""
    decision = context.decision
    if decision is None:
        raise RuntimeError(f"{event.value} offers the referral on without a routing decision")
    chosen = by_hand or decision.first
    routing_service.store_decision(
        session,
        referral_id=context.referral.id,
        decision=decision,
        trigger=event.value,
        decided_by=caller.user_id,
        chosen=chosen,
        by_hand=by_hand is not None,
        now=now,
    )
    if chosen is None:
        return {"offered_to": None, "no_route_reason": decision.no_route_reason}
    provider = provider_to_offer(session, chosen)
    respond_by = now + timedelta(hours=provider.respond_by_hours)
    offer = Offer(
        referral_id=context.referral.id,
        provider_id=provider.id,
        offered_at=now,
        offered_by=caller.user_id,
        respond_by=respond_by,
        rule_set_hash=decision.rule_set_hash,
    )
    repository.add(session, offer)
    context.offers.append((offer, chosen))
    adjust_load(session, chosen, +1)
    if provider.notify_address:
        _announce(session, context, provider.notify_address, respond_by, now)
    rule = next((c.rule for c in decision.candidates if c.provider == chosen), None)
    return {
        "offered_to": chosen,
        "by_hand": by_hand is not None,
        "rule": rule,
        "rules_would_choose": decision.first,
    }


def keep_load_in_step(session: Session, context: ReferralContext, event: Event) -> None:
    """An open offer or a held case counts towards a provider's load until it ends."""
    offered_to = context.open_offer[1] if context.open_offer else None
    if event in (Event.decline, Event.expire, Event.consent_withdrawn) or (
        event == Event.close and offered_to
    ):
        adjust_load(session, offered_to, -1)
    elif event == Event.hand_back or (event == Event.close and context.holder_code):
        adjust_load(session, context.holder_code, -1)


def _announce(
    session: Session, context: ReferralContext, address: str, respond_by: datetime, now: datetime
) -> None:
    """Tell the provider's team of a new offer: the reference, a link and when to answer by."""
    referral = context.referral
    link = f"{context.settings.public_base_url}/api/referrals/{referral.id}"
    notifications.enqueue(
        session,
        kind="offer",
        recipient=address,
        subject=f"New referral offered: {referral.reference}",
        body=f"Referral {referral.reference} is offered to you.\n"
        f"Please accept or decline by {respond_by.isoformat()}.\nOpen: {link}\n",
        now=now,
        referral_id=referral.id,
    )
