"""Recording the needs assessment and changing consent on a referral, each audited with the
answers before and after; an open offer is withdrawn once consent no longer allows sharing."""

from datetime import datetime

from sqlalchemy.orm import Session

from triage.assessment import service as assessment_service
from triage.assessment.schemas import AssessmentUpdate, ConsentUpdate
from triage.caller import Caller
from triage.lifecycle.codes import Event, Role, State
from triage.lifecycle.guards import consent_gate
from triage.referrals.context import ReferralContext, require_person_level
from triage.referrals.entitlements import evaluate_change, log_change
from triage.referrals.events import apply_event, record_change, refuse
from triage.referrals.schemas import EventBody

TRIAGE_ONLY = frozenset({Role.triage})


def record_assessment(
    session: Session,
    *,
    context: ReferralContext,
    caller: Caller,
    body: AssessmentUpdate,
    now: datetime,
) -> ReferralContext:
    """Record (or replace) the needs, risk, vulnerability and consent answers."""
    _check_open(context, caller, body.version)
    context.assessment, before, after = assessment_service.record_answers(
        session,
        referral_id=context.referral.id,
        assessment=context.assessment,
        body=body,
        user_id=caller.user_id,
        now=now,
    )
    _record(session, context, caller, "assessment", before, after, now)
    return context


def change_consent(
    session: Session,
    *,
    context: ReferralContext,
    caller: Caller,
    body: ConsentUpdate,
    now: datetime,
) -> ReferralContext:
    """Give or withdraw consent to share; withdrawing withdraws any open offer (DESIGN 7)."""
    _check_open(context, caller, body.version)
    if context.assessment is None:
        refuse(context, caller, ["assessment_incomplete"])
    before, after = assessment_service.record_consent(
        context.assessment, consent=body, user_id=caller.user_id, now=now
    )
    _record(session, context, caller, "consent", before, after, now)
    return context


def _check_open(context: ReferralContext, caller: Caller, version: int) -> None:
    """Triage only; then the version read (409) and an open referral (409)."""
    require_person_level(caller, roles=TRIAGE_ONLY)
    if version != context.referral.version:
        refuse(context, caller, ["stale_version"])
    if context.referral.state == State.closed:
        refuse(context, caller, ["referral_closed"])


def _record(
    session: Session,
    context: ReferralContext,
    caller: Caller,
    action: str,
    before: assessment_service.Snapshot,
    after: assessment_service.Snapshot,
    now: datetime,
) -> None:
    evaluation, stored = evaluate_change(context, now=now)
    record_change(
        session,
        context=context,
        caller=caller,
        action=action,
        from_state=context.referral.state,
        detail={"before": before, "after": after},
        now=now,
    )
    log_change(
        session,
        context=context,
        evaluation=evaluation,
        stored=stored,
        caller=caller,
        trigger=action,
        now=now,
    )
    _stop_sharing_if_consent_fails(session, context, caller, now)


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
