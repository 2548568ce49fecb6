"""Recording the needs assessment and changing consent, each audited with before and after."""

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy.orm import Session

from triage.assessment.models import Assessment
from triage.assessment.rules import risk_level
from triage.assessment.schemas import AssessmentUpdate, ConsentUpdate
from triage.audit import service as audit
from triage.auth.service import Caller
from triage.config import Settings
from triage.errors import parse_body
from triage.lifecycle.codes import VULNERABILITY_FLAGS, Event, Role, State
from triage.lifecycle.guards import consent_gate
from triage.referrals.context import ReferralContext, load, require_person_level
from triage.referrals.events import apply_event, refuse
from triage.referrals.schemas import EventBody
from triage.vcop import service as vcop_service

TRIAGE_ONLY = frozenset({Role.triage})


def record_assessment(
    session: Session,
    *,
    caller: Caller,
    referral_id: UUID,
    payload: bytes,
    now: datetime,
    settings: Settings,
) -> ReferralContext:
    """Record (or replace) the needs, risk, vulnerability and consent answers."""
    context, body = _open_referral(
        session, caller, referral_id, AssessmentUpdate, payload, settings
    )
    assessment = context.assessment
    before = snapshot(assessment)
    if assessment is None:
        assessment = Assessment(referral_id=referral_id)
        session.add(assessment)
        context.assessment = assessment
    assessment.needs = [n.value for n in body.needs]
    assessment.dash_score = body.risk.dash_score
    judgement = body.risk.professional_judgement
    assessment.professional_judgement = judgement.value if judgement else None
    level = risk_level(body.risk.dash_score, assessment.professional_judgement)
    assessment.risk_level = level.value if level else None
    for flag, value in body.vulnerability.model_dump().items():
        setattr(assessment, flag, value)
    assessment.restorative_justice_interest = body.restorative_justice_interest
    assessment.care_leaver = body.care_leaver
    assessment.assessed_by = caller.user_id
    assessment.assessed_at = now
    if body.consent is None:
        _set_consent(assessment, None, None, caller, now, keep_if_same=False)
    else:
        method = body.consent.method.value if body.consent.method else None
        _set_consent(assessment, body.consent.share_with_provider, method, caller, now)
    _bump(session, context, caller, "assessment", before, snapshot(assessment), now)
    vcop_service.reevaluate(session, context=context, caller=caller, trigger="assessment", now=now)
    _stop_sharing_if_consent_fails(session, context, caller, now)
    return context


def change_consent(
    session: Session,
    *,
    caller: Caller,
    referral_id: UUID,
    payload: bytes,
    now: datetime,
    settings: Settings,
) -> ReferralContext:
    """Give or withdraw consent to share; withdrawing withdraws any open offer (DESIGN 7)."""
    context, body = _open_referral(session, caller, referral_id, ConsentUpdate, payload, settings)
    assessment = context.assessment
    if assessment is None:
        refuse(context, caller, ["assessment_incomplete"])
        raise AssertionError  # refuse always raises
    before = snapshot(assessment)
    method = body.method.value if body.method else None
    _set_consent(assessment, body.share_with_provider, method, caller, now)
    _bump(session, context, caller, "consent", before, snapshot(assessment), now)
    vcop_service.reevaluate(session, context=context, caller=caller, trigger="consent", now=now)
    _stop_sharing_if_consent_fails(session, context, caller, now)
    return context


def _stop_sharing_if_consent_fails(
    session: Session, context: ReferralContext, caller: Caller, now: datetime
) -> None:
    """An open offer is withdrawn as soon as the consent gate no longer passes (DESIGN 7)."""
    if context.referral.state != State.awaiting_provider:
        return
    if consent_gate(context.facts(), None) is None:
        return
    apply_event(
        session,
        context=context,
        caller=caller,
        event=Event.consent_withdrawn,
        body=EventBody(version=context.referral.version),
        now=now,
    )


B = TypeVar("B", AssessmentUpdate, ConsentUpdate)


def _open_referral(
    session: Session,
    caller: Caller,
    referral_id: UUID,
    model: type[B],
    payload: bytes,
    settings: Settings,
) -> tuple[ReferralContext, B]:
    """Scope (404), then the body (422), then version and state (409)."""
    require_person_level(caller, roles=TRIAGE_ONLY)
    context = load(
        session, caller=caller, referral_id=referral_id, settings=settings, for_update=True
    )
    body = parse_body(model, payload)
    if body.version != context.referral.version:
        refuse(context, caller, ["stale_version"])
    if context.referral.state == State.closed:
        refuse(context, caller, ["referral_closed"])
    return context, body


def _set_consent(
    assessment: Assessment,
    share: bool | None,
    method: str | None,
    caller: Caller,
    now: datetime,
    *,
    keep_if_same: bool = True,
) -> None:
    """Consent carries who recorded it, when and how; unchanged answers keep their record."""
    if (
        keep_if_same
        and assessment.consent_to_share == share
        and assessment.consent_method == method
    ):
        return
    assessment.consent_to_share = share
    assessment.consent_method = method
    assessment.consent_recorded_by = caller.user_id if share is not None else None
    assessment.consent_recorded_at = now if share is not None else None


def _bump(
    session: Session,
    context: ReferralContext,
    caller: Caller,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    referral = context.referral
    referral.version += 1
    referral.updated_at = now
    session.flush()
    audit.record(
        session,
        caller=caller,
        action=action,
        now=now,
        referral_id=referral.id,
        from_state=referral.state,
        to_state=referral.state,
        version=referral.version,
        detail={"before": before, "after": after},
    )


def snapshot(assessment: Assessment | None) -> dict[str, Any] | None:
    """The assessment's answers as plain data, for the audit log."""
    if assessment is None:
        return None
    return {
        "needs": list(assessment.needs),
        "dash_score": assessment.dash_score,
        "professional_judgement": assessment.professional_judgement,
        "risk_level": assessment.risk_level,
        "vulnerability": {flag: getattr(assessment, flag) for flag in VULNERABILITY_FLAGS},
        "consent_to_share": assessment.consent_to_share,
        "consent_method": assessment.consent_method,
        "restorative_justice_interest": assessment.restorative_justice_interest,
        "care_leaver": assessment.care_leaver,
    }
