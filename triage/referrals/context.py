"""One referral with everything the lifecycle and its views need, loaded once per request.

The referral aggregate: it answers what the lifecycle's guards, routing and the Victims'
Code may know of the referral, each built here once from the loaded rows.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from triage.assessment import repository as assessment_repository
from triage.assessment.answers import Answers
from triage.assessment.models import Assessment
from triage.assessment.rules import assessment_gaps
from triage.assessment.service import answers_of
from triage.caller import Caller
from triage.config import Settings
from triage.errors import Forbidden, NotFound
from triage.lifecycle.codes import (
    EVENTS_BY_ROLE,
    AnswerReason,
    AttemptOutcome,
    ClosureReason,
    Event,
    OfferAnswer,
    Role,
    State,
)
from triage.lifecycle.flow import flow_for
from triage.lifecycle.guards import ReferralFacts
from triage.referrals import repository
from triage.referrals.inputs import routing_input, vcop_facts
from triage.referrals.models import ContactAttempt, Offer, Referral
from triage.referrals.people import age_on
from triage.referrals.urgency import contact_due, urgent_at
from triage.routing.engine import Decision, RoutingInput
from triage.rule_sources import RuleSources
from triage.vcop.editions import Edition
from triage.vcop.rights import VcopFacts

PERSON_LEVEL_ROLES = frozenset({Role.triage, Role.provider})
# Why a provider may not be offered a referral again under the same rule set (DESIGN 7).
ENDED_OFFERS = {OfferAnswer.declined: "already_declined", OfferAnswer.expired: "expired"}


@dataclass
class ReferralContext:
    referral: Referral
    assessment: Assessment | None
    attempts: list[ContactAttempt]
    offers: list[tuple[Offer, str]]
    edition: Edition
    rules: RuleSources
    settings: Settings
    # The routing decision for the event being fired, when it needs one, and the providers
    # taking cases when it was made.
    decision: Decision | None = None
    accepting: frozenset[str] = frozenset()

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

    @property
    def answers(self) -> Answers | None:
        return answers_of(self.assessment)

    @property
    def age(self) -> int | None:
        """The victim's age on the reference day (unknown without a date of birth)."""
        return age_on(self.referral.victim_date_of_birth, self.reference_day)

    def routing_input(self) -> RoutingInput:
        referral = self.referral
        return routing_input(
            crime_type=referral.crime_type,
            area=referral.area,
            age=self.age,
            hate_strands=referral.hate_strands,
            answers=self.answers,
        )

    def vcop_facts(self) -> VcopFacts:
        referral = self.referral
        accepted = [
            o.answered_at
            for o, _ in self.offers
            if o.answer == OfferAnswer.accepted and o.answered_at
        ]
        unsafe = any(a.outcome == AttemptOutcome.unsafe for a in self.attempts) or (
            referral.closure_reason == ClosureReason.unsafe_to_contact
        )
        return vcop_facts(
            crime_type=referral.crime_type,
            received_at=referral.received_at,
            crime_reported_at=referral.crime_reported_at,
            hate_crime=bool(referral.hate_strands),
            age=self.age,
            answers=self.answers,
            consent_required=self.consent_required,
            contact_made_at=min((a.at for a in self.attempts if a.made_contact), default=None),
            routed_at=min((o.offered_at for o, _ in self.offers), default=None),
            accepted_at=min(accepted, default=None),
            unsafe_to_contact=unsafe,
        )

    def urgent_at(self, rights: Iterable[tuple[str, datetime | None]]) -> datetime | None:
        """The soonest thing due, given the current status and due time of each right."""
        referral, open_offer = self.referral, self.open_offer
        return urgent_at(
            state=referral.state,
            contact=contact_due(
                referral.received_at,
                (a.at for a in self.attempts if not a.made_contact),
                self.settings.contact_standard_hours,
            ),
            rights=rights,
            respond_by=open_offer[0].respond_by if open_offer else None,
        )

    def ended_offers(self, rule_set_hash: str | None) -> dict[str, str]:
        """Providers whose offer ended (declined, expired, handed back) under this rule set
        (None: under any), with why: none of them is offered this referral again."""
        ended: dict[str, str] = {}
        for offer, code in self.offers:
            if rule_set_hash is not None and offer.rule_set_hash != rule_set_hash:
                continue
            if offer.handed_back_at is not None:
                ended[code] = "handed_back"
            elif offer.answer in ENDED_OFFERS:
                ended[code] = ENDED_OFFERS[OfferAnswer(offer.answer)]
        return ended

    def declined_for_capacity(self, rule_set_hash: str | None) -> frozenset[str]:
        """Providers whose offer under this rule set last ended in a decline for want of
        capacity (not for any other reason, not handed back)."""
        last: dict[str, bool] = {}
        for offer, code in self.offers:
            if rule_set_hash is not None and offer.rule_set_hash != rule_set_hash:
                continue
            if offer.handed_back_at is not None or offer.answer in ENDED_OFFERS:
                last[code] = (
                    offer.handed_back_at is None
                    and offer.answer == OfferAnswer.declined
                    and offer.reason == AnswerReason.no_capacity
                )
        return frozenset(code for code, capacity in last.items() if capacity)

    def facts(self) -> ReferralFacts:
        """What the lifecycle guards may know, read from the loaded rows."""
        london = ZoneInfo(self.settings.timezone)
        assessment = self.assessment
        decision = self.decision
        rule_set_hash = decision.rule_set_hash if decision else None
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
            declined_providers=frozenset(self.ended_offers(rule_set_hash)),
            may_offer_again=self.declined_for_capacity(rule_set_hash) & self.accepting,
            next_candidate=decision.first if decision else None,
            open_offer_provider=open_offer[1] if open_offer else None,
            holder_provider=self.holder_code,
        )

    def allowed_events(self, caller: Caller) -> list[str]:
        """The events this caller may fire now (guards on stored data, then role and scope)."""
        if caller.role not in EVENTS_BY_ROLE:
            return []
        facts = self.facts()
        flow = flow_for(self.referral)
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
    rules: RuleSources,
    settings: Settings,
    for_update: bool = False,
) -> ReferralContext:
    """The referral and its rows, if it lies in the caller's scope (else NotFound).

    `for_update` locks the referral's row until the transaction ends, so two events on one
    referral are applied one after the other and the second sees the first's version.
    """
    referral = repository.get(session, referral_id, for_update=for_update)
    out_of_scope = referral is not None and (
        (caller.role == Role.provider and (
            caller.provider_id is None
            or not repository.is_visible_to_provider(session, referral_id, caller.provider_id)))
        or not readable(session, referral_id, caller)
    )  # fmt: skip
    if referral is None or out_of_scope:
        raise NotFound(f"no referral {referral_id}")
    return ReferralContext(
        referral=referral,
        assessment=assessment_repository.of_referral(session, referral_id),
        attempts=repository.contact_attempts_of(session, referral_id),
        offers=repository.offers_of(session, referral_id),
        edition=rules.edition_on(reference_day(referral, settings.timezone)),
        rules=rules,
        settings=settings,
    )


def readable(session: Session, referral_id: UUID, caller: Caller) -> bool:
    """Whether a lockdown leaves the caller out (the service itself is never left out)."""
    return caller.role == Role.system or repository.may_read(session, referral_id, caller.user_id)


def load_many(
    session: Session, *, referral_ids: Sequence[UUID], rules: RuleSources, settings: Settings
) -> list[ReferralContext]:
    """Several referrals with their rows in four statements, for the sweeps (which see every
    referral and have locked these already); in the order of `referral_ids`."""
    if not referral_ids:
        return []
    referrals = repository.many(session, referral_ids)
    found = [r.id for r in referrals]
    assessments = assessment_repository.of_referrals(session, found)
    attempts = repository.contact_attempts_of_many(session, found)
    offers = repository.offers_of_many(session, found)
    return [
        ReferralContext(
            referral=referral,
            assessment=assessments.get(referral.id),
            attempts=attempts[referral.id],
            offers=offers[referral.id],
            edition=rules.edition_on(reference_day(referral, settings.timezone)),
            rules=rules,
            settings=settings,
        )
        for referral in referrals
    ]


def reference_day(referral: Referral, timezone: str) -> date:
    """The day that fixes the Code edition and the victim's age: reported, else received."""
    instant = referral.crime_reported_at or referral.received_at
    return instant.astimezone(ZoneInfo(timezone)).date()
