"""Guards of the referral lifecycle: pure checks of stored facts and of an event's fields.

Each guard answers `None` when it passes, or the code of what stopped it; those codes are
the `failed` list of a 409. A guard that needs an event field passes when it is asked about
stored data only (`fields` is None), which is how `allowed_events` is worked out.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from triage.lifecycle.codes import (
    CLOSURE_REASONS_BEFORE_SUPPORT,
    CLOSURE_REASONS_IN_SUPPORT,
    ClosureReason,
    Event,
    State,
)


@dataclass(frozen=True)
class ReferralFacts:
    """What the guards may know about one referral, read from storage by the service."""

    state: State
    assessment_gaps: tuple[str, ...] = ("assessment_incomplete",)
    consent_required: bool = False
    consent_to_share: bool | None = None
    contact_attempt_days: tuple[date, ...] = ()
    min_contact_attempts: int = 3
    declined_providers: frozenset[str] = frozenset()
    # Of those, the ones that declined only for want of capacity and take cases again now:
    # the unit may offer it to them again by hand (the rules do not).
    may_offer_again: frozenset[str] = frozenset()
    next_candidate: str | None = None
    open_offer_provider: str | None = None
    holder_provider: str | None = None


Fields = Mapping[str, Any] | None
Guard = Callable[[ReferralFacts, Fields], str | None]


def assessment_complete(facts: ReferralFacts, fields: Fields) -> str | None:
    return facts.assessment_gaps[0] if facts.assessment_gaps else None


def consent_gate(facts: ReferralFacts, fields: Fields) -> str | None:
    if facts.consent_to_share is False:
        return "consent_refused"
    if facts.consent_required and facts.consent_to_share is not True:
        return "consent_required"
    return None


def provider_chosen(facts: ReferralFacts, fields: Fields) -> str | None:
    if fields is None:
        return None
    provider = fields.get("provider") or facts.next_candidate
    if provider is None:
        return "no_candidate"
    by_hand = fields.get("provider") == provider
    if provider in facts.declined_providers and not (by_hand and provider in facts.may_offer_again):
        return "already_declined"
    return None


def closure_reason_allowed(facts: ReferralFacts, fields: Fields) -> str | None:
    if fields is None:
        return None
    allowed = (
        CLOSURE_REASONS_IN_SUPPORT
        if facts.state == State.in_support
        else CLOSURE_REASONS_BEFORE_SUPPORT
    )
    return None if fields.get("reason") in allowed else "closure_reason_not_allowed"


def enough_contact_attempts(facts: ReferralFacts, fields: Fields) -> str | None:
    """`uncontactable` needs the configured number of attempts, spread over two days."""
    if fields is None or fields.get("reason") != ClosureReason.uncontactable:
        return None
    attempts, days = facts.contact_attempt_days, set(facts.contact_attempt_days)
    if len(attempts) >= facts.min_contact_attempts and len(days) >= 2:
        return None
    return "too_few_contact_attempts"


GUARDS: dict[Event, tuple[Guard, ...]] = {
    Event.route: (assessment_complete, consent_gate, provider_chosen),
    Event.close: (closure_reason_allowed, enough_contact_attempts),
}

MESSAGES = {
    "assessment_incomplete": "the needs assessment is not complete",
    "dash_score_required": "this crime needs a DASH score or a professional judgement",
    "consent_required": "this crime needs the victim's explicit consent to share",
    "consent_refused": "the victim has not consented to sharing with a provider",
    "no_candidate": "no provider was named and none is left to offer",
    "already_declined": "that provider has already declined or handed back this referral",
    "closure_reason_not_allowed": "that closure reason does not fit the referral's state",
    "too_few_contact_attempts": "uncontactable needs more contact attempts on two days",
    "not_allowed_in_state": "the event is not allowed in the referral's state",
    "stale_version": "the referral has changed since that version was read",
    "referral_closed": "a closed referral does not change",
}


def failed_guards(event: Event, facts: ReferralFacts, fields: Fields) -> list[str]:
    """Codes of every guard of `event` that stops it now."""
    return [code for guard in GUARDS.get(event, ()) if (code := guard(facts, fields))]


def describe(failed: list[str]) -> str:
    """The failure codes in words, for the 409 message."""
    return "; ".join(MESSAGES.get(code, code) for code in failed)
