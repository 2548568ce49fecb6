"""One referral with everything the lifecycle and its views need, loaded once per request."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from triage.assessment.models import Assessment
from triage.assessment.rules import assessment_gaps
from triage.auth.service import Caller
from triage.config import Settings
from triage.errors import Forbidden, NotFound
from triage.lifecycle.codes import EVENTS_BY_ROLE, Event, OfferAnswer, Role, State
from triage.lifecycle.flow import ReferralFlow
from triage.lifecycle.guards import ReferralFacts
from triage.referrals import repository
from triage.referrals.models import ContactAttempt, Offer, Referral
from triage.routing.engine import Decision
from triage.vcop.editions import Edition, edition_in_force, load_editions

PERSON_LEVEL_ROLES = frozenset({Role.triage, Role.provider})


@dataclass
class ReferralContext:
    referral: Referral
    assessment: Assessment | None
    attempts: list[ContactAttempt]
    offers: list[tuple[Offer, str]]
    edition: Edition
    settings: Settings
    # The routing decision for the event being fired, when it needs one.
    decision: Decision | None = None

    @property
    def open_offer(self) -> tuple[Offer, str] | None:
        return next(((o, c) for o, c in self.offers if o.answer is None), None)

    @property
    def holder_code(self) -> str | None:
        accepted = [c for o, c in self.offers if o.answer == OfferAnswer.accepted]
        held = self.referral.holder_provider_id is not None
        return accepted[-1] if held and accepted else None

    @property
    def reference_day(self) -> date:
        return reference_day(self.referral, self.settings.timezone)

    @property
    def consent_required(self) -> bool:
        bereaved = bool(self.assessment and self.assessment.bereaved)
        return self.edition.needs_explicit_consent(self.referral.crime_type, bereaved=bereaved)

    def facts(self) -> ReferralFacts:
        """What the lifecycle guards may know, read from the loaded rows."""
        london = ZoneInfo(self.settings.timezone)
        assessment = self.assessment
        ended = {OfferAnswer.declined, OfferAnswer.expired}
        decision = self.decision
        current_hash = decision.rule_set_hash if decision else None
        open_offer = self.open_offer
        return ReferralFacts(
            state=State(self.referral.state),
            assessment_gaps=assessment_gaps(
                self.referral.crime_type,
                assessed=assessment is not None,
                dash_score=assessment.dash_score if assessment else None,
                judgement=assessment.professional_judgement if assessment else None,
            ),
            consent_required=self.consent_required,
            consent_to_share=assessment.consent_to_share if assessment else None,
            contact_attempt_days=tuple(
                a.at.astimezone(london).date() for a in self.attempts if not a.made_contact
            ),
            min_contact_attempts=self.settings.min_contact_attempts,
            # Not offered twice under one rule set; a change of rules may offer again.
            declined_providers=frozenset(
                code
                for o, code in self.offers
                if (o.answer in ended or o.handed_back_at)
                and (current_hash is None or o.rule_set_hash == current_hash)
            ),
            next_candidate=decision.first if decision else None,
            open_offer_provider=open_offer[1] if open_offer else None,
            holder_provider=self.holder_code,
        )

    def allowed_events(self, caller: Caller) -> list[str]:
        """The events this caller may fire now (guards on stored data, then role and scope)."""
        if caller.role not in EVENTS_BY_ROLE:
            return []
        facts = self.facts()
        flow = ReferralFlow(self.referral)
        enabled = {e.id for e in flow.enabled_events(facts=facts, fields=None)}
        mine = EVENTS_BY_ROLE[caller.role]
        if caller.role == Role.provider:
            mine = provider_events(facts, caller.provider_code)
        return [e.value for e in Event if e.value in enabled and e in mine]


def provider_events(facts: ReferralFacts, provider_code: str | None) -> frozenset[Event]:
    """A provider answers its own open offer and works (hands back, closes) its own case."""
    events: set[Event] = set()
    if provider_code is not None and facts.open_offer_provider == provider_code:
        events |= {Event.accept, Event.decline}
    if provider_code is not None and facts.holder_provider == provider_code:
        events |= {Event.hand_back, Event.close}
    return frozenset(events)


def require_person_level(caller: Caller, *, roles: frozenset[Role] = PERSON_LEVEL_ROLES) -> None:
    """Commissioners, admins and intake clients never see a person's record."""
    if caller.role not in roles:
        raise Forbidden(f"the {caller.role.value} role may not use this route")


def load(
    session: Session,
    *,
    caller: Caller,
    referral_id: UUID,
    settings: Settings,
    for_update: bool = False,
) -> ReferralContext:
    """The referral and its rows, if it lies in the caller's scope (else NotFound).

    `for_update` locks the referral's row until the transaction ends, so two events on one
    referral are applied one after the other and the second sees the first's version.
    """
    referral = repository.get(session, referral_id, for_update=for_update)
    out_of_scope = caller.role == Role.provider and (
        referral is None
        or caller.provider_id is None
        or not repository.is_visible_to_provider(session, referral_id, caller.provider_id)
    )
    if referral is None or out_of_scope:
        raise NotFound(f"no referral {referral_id}")
    editions = load_editions(settings.rules_dir / "vcop")
    return ReferralContext(
        referral=referral,
        assessment=repository.assessment_of(session, referral_id),
        attempts=repository.contact_attempts_of(session, referral_id),
        offers=repository.offers_of(session, referral_id),
        edition=edition_in_force(editions, reference_day(referral, settings.timezone)),
        settings=settings,
    )


def load_many(
    session: Session, *, referral_ids: Sequence[UUID], settings: Settings
) -> list[ReferralContext]:
    """Several referrals with their rows in four statements, for the sweeps (which see every
    referral and have locked these already); in the order of `referral_ids`."""
    if not referral_ids:
        return []
    referrals = repository.many(session, referral_ids)
    found = [r.id for r in referrals]
    assessments = repository.assessments_of_many(session, found)
    attempts = repository.contact_attempts_of_many(session, found)
    offers = repository.offers_of_many(session, found)
    editions = load_editions(settings.rules_dir / "vcop")
    return [
        ReferralContext(
            referral=referral,
            assessment=assessments.get(referral.id),
            attempts=attempts[referral.id],
            offers=offers[referral.id],
            edition=edition_in_force(editions, reference_day(referral, settings.timezone)),
            settings=settings,
        )
        for referral in referrals
    ]


def reference_day(referral: Referral, timezone: str) -> date:
    """The day that fixes the Code edition and the victim's age: reported, else received."""
    instant = referral.crime_reported_at or referral.received_at
    return instant.astimezone(ZoneInfo(timezone)).date()
