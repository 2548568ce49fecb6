"""What each caller is shown of a referral: full detail, or the provider's restricted view."""

from sqlalchemy.orm import Session

from triage.assessment.models import Assessment
from triage.assessment.rules import risk_level
from triage.assessment.schemas import (
    AssessmentRead,
    ConsentRead,
    RiskRead,
    Vulnerability,
)
from triage.auth import service as auth_service
from triage.caller import Caller
from triage.lifecycle.codes import Role
from triage.referrals import repository
from triage.referrals.context import ReferralContext
from triage.referrals.lockdown import lockdown_view
from triage.referrals.people import age_band
from triage.referrals.schemas import (
    ContactAttemptRead,
    LinkedReferral,
    OfferRead,
    ReferralRead,
    VictimRead,
)
from triage.vcop import service as vcop_service
from triage.vcop.schemas import EntitlementSummary


def sees_person(context: ReferralContext, caller: Caller) -> bool:
    """Triage sees everything; a provider sees the person only once it holds the case."""
    if caller.role == Role.triage:
        return True
    return caller.role == Role.provider and context.holder_code == caller.provider_code


def referral_view(session: Session, context: ReferralContext, caller: Caller) -> ReferralRead:
    referral = context.referral
    full = sees_person(context, caller)
    offers = [
        OfferRead(
            provider=code,
            offered_at=offer.offered_at,
            respond_by=offer.respond_by,
            answer=offer.answer,
            answered_at=offer.answered_at,
            reason=offer.reason,
            note=offer.note,
            handed_back_at=offer.handed_back_at,
            hand_back_reason=offer.hand_back_reason,
            hand_back_note=offer.hand_back_note,
        )
        for offer, code in context.offers
        if caller.role == Role.triage or code == caller.provider_code
    ]
    open_offer = context.open_offer
    linked = (
        repository.linked_referrals(
            session,
            reader_id=caller.user_id,
            referral_id=referral.id,
            date_of_birth=referral.victim_date_of_birth,
            name_key=referral.victim_name_key,
            phone_key=referral.victim_phone_key,
        )
        if caller.role == Role.triage
        else []
    )
    return ReferralRead(
        id=referral.id,
        reference=referral.reference,
        state=referral.state,
        version=referral.version,
        allowed_events=context.allowed_events(caller),
        source=referral.source,
        external_ref=referral.external_ref if full else None,
        crime_type=referral.crime_type,
        hate_strands=referral.hate_strands,
        area=referral.area,
        crime_reported_at=referral.crime_reported_at,
        received_at=referral.received_at,
        age_band=age_band(context.age),
        safe_channels=referral.safe_channels,
        victim_restricted=not full,
        victim=victim_view(context) if full else None,
        notes=referral.notes if full else None,
        assessment=assessment_view(session, context, full=full),
        contact_attempts=[
            ContactAttemptRead(
                at=a.at, channel=a.channel, outcome=a.outcome, made_contact=a.made_contact
            )
            for a in context.attempts
        ]
        if full
        else [],
        offers=offers,
        provider=context.holder_code or (open_offer[1] if open_offer else None),
        deadlines={"respond_by": open_offer[0].respond_by if open_offer else None},
        entitlements=_entitlements(session, context, full=full),
        closure_reason=referral.closure_reason,
        outcomes=referral.outcomes,
        closed_at=referral.closed_at,
        previous_referrals=[
            LinkedReferral(
                id=r.id,
                reference=r.reference,
                received_at=r.received_at,
                state=r.state,
                crime_type=r.crime_type,
            )
            for r in linked
        ],
        updated_at=referral.updated_at,
        lockdown=lockdown_view(session, referral.id),
        anonymised=referral.anonymised_at is not None,
    )


def _entitlements(session: Session, context: ReferralContext, *, full: bool) -> EntitlementSummary:
    """Triage sees the whole summary; a provider sees only enhanced or standard (DESIGN 4)."""
    r = context.referral
    if not full:
        return EntitlementSummary(
            edition=None, enhanced=r.enhanced, enhanced_reasons=None, next_due=None, breached=[]
        )
    return vcop_service.summary(
        session,
        referral_id=r.id,
        referral_enhanced=r.enhanced,
        reasons=r.enhanced_reasons,
        edition=r.vcop_edition,
    )


def victim_view(context: ReferralContext) -> VictimRead:
    r = context.referral
    return VictimRead(
        full_name=r.victim_full_name,
        date_of_birth=r.victim_date_of_birth,
        phone=r.victim_phone,
        email=r.victim_email,
        address=r.victim_address,
        postcode=r.victim_postcode,
        safe_times=r.safe_times,
        language=r.language,
    )


def assessment_view(
    session: Session, context: ReferralContext, *, full: bool
) -> AssessmentRead | None:
    a: Assessment | None = context.assessment
    if a is None:
        return None
    facts = context.facts()
    level = risk_level(a.dash_score, a.professional_judgement)
    consent_missing = context.consent_required and a.consent_to_share is None
    gaps = list(facts.assessment_gaps) + (["consent_required"] if consent_missing else [])
    return AssessmentRead(
        needs=a.needs,
        risk=RiskRead(
            dash_score=a.dash_score if full else None,
            professional_judgement=a.professional_judgement if full else None,
            level=level.value if level else None,
        ),
        vulnerability=Vulnerability(
            mental_disorder=a.mental_disorder,
            impaired_intelligence=a.impaired_intelligence,
            physical_disability=a.physical_disability,
            intimidated=a.intimidated,
            persistently_targeted=a.persistently_targeted,
            bereaved=a.bereaved,
        )
        if full
        else None,
        consent=ConsentRead(
            share_with_provider=a.consent_to_share,
            method=a.consent_method,
            recorded_by=auth_service.username(session, a.consent_recorded_by),
            recorded_at=a.consent_recorded_at,
            explicit_consent_needed=context.consent_required,
        )
        if full
        else None,
        restorative_justice_interest=a.restorative_justice_interest if full else None,
        care_leaver=a.care_leaver if full else None,
        complete=not gaps,
        gaps=gaps,
        assessed_at=a.assessed_at,
    )
