"""Evaluating a referral's Victims' Code entitlements and keeping the check log.

Every evaluation (at creation, after each lifecycle event, assessment or consent change)
writes one check-log row per tracked right, with its outcome and evidence, in the same
transaction as its cause; the newest row of each right is marked `current` and carries the
right's status and `due_at` for the deadline sweeps.
"""

from dataclasses import dataclass
from datetime import datetime, time
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from triage.assessment.models import Assessment
from triage.audit import service as audit
from triage.auth.models import User
from triage.auth.service import Caller
from triage.config import Settings
from triage.lifecycle.codes import VULNERABILITY_FLAGS, AttemptOutcome, ClosureReason, OfferAnswer
from triage.referrals.context import ReferralContext
from triage.referrals.people import age_on
from triage.vcop.calendar import WorkingCalendar
from triage.vcop.editions import Edition
from triage.vcop.models import EntitlementCheck
from triage.vcop.rights import BREACHED, NOT_TRACKED, PENDING, Evaluation, VcopFacts, evaluate
from triage.vcop.schemas import CheckRead, EntitlementSummary, NextDue, RightRead, VcopRead


@cache
def _calendar(timezone: str, cutoff: time) -> WorkingCalendar:
    return WorkingCalendar(timezone, cutoff)


def calendar_for(settings: Settings) -> WorkingCalendar:
    return _calendar(settings.timezone, settings.vcop_cutoff)


def facts_for(context: ReferralContext) -> VcopFacts:
    """What the clocks need, read from a loaded referral."""
    referral, assessment = context.referral, context.assessment
    contacts = [a.at for a in context.attempts if a.made_contact]
    offered = [o.offered_at for o, _ in context.offers]
    accepted = [
        o.answered_at
        for o, _ in context.offers
        if o.answer == OfferAnswer.accepted and o.answered_at
    ]
    unsafe = any(a.outcome == AttemptOutcome.unsafe for a in context.attempts) or (
        referral.closure_reason == ClosureReason.unsafe_to_contact
    )
    consent = assessment.consent_to_share if assessment else None
    return VcopFacts(
        crime_type=referral.crime_type,
        received_at=referral.received_at,
        crime_reported_at=referral.crime_reported_at,
        hate_crime=bool(referral.hate_strands),
        age=age_on(referral.victim_date_of_birth, context.reference_day),
        vulnerability=_vulnerability(assessment),
        intimidated=bool(assessment and assessment.intimidated),
        persistently_targeted=bool(assessment and assessment.persistently_targeted),
        bereaved=bool(assessment and assessment.bereaved),
        contact_made_at=min(contacts, default=None),
        routed_at=min(offered, default=None),
        accepted_at=min(accepted, default=None),
        opted_out=consent is False,
        consent_missing=context.consent_required and consent is not True,
        unsafe_to_contact=unsafe,
    )


def _vulnerability(assessment: Assessment | None) -> frozenset[str]:
    if assessment is None:
        return frozenset()
    # Every flag set; the edition's [enhanced] table says which of them are grounds.
    return frozenset(flag for flag in VULNERABILITY_FLAGS if getattr(assessment, flag))


@dataclass(frozen=True)
class Check:
    """Who asked for an evaluation and why: a person's event, or the system's sweep."""

    trigger: str
    checked_by: int | None
    evidence: dict[str, Any]


def record_evaluation(
    session: Session,
    *,
    referral_id: UUID,
    evaluation: Evaluation,
    check: Check,
    now: datetime,
    is_new: bool = False,
) -> None:
    """Write one check-log row per tracked right; the new rows become the current ones."""
    tracked = [r for r in evaluation.rights if r.status != NOT_TRACKED]
    if not tracked:
        return
    if not is_new:
        session.execute(_SUPERSEDE, {"of_referral": referral_id})
    session.execute(
        _INSERT_CHECK,
        [
            {
                "referral_id": referral_id,
                "right": r.right,
                "edition": evaluation.edition,
                "status": r.status,
                "due_at": r.due_at,
                "met_at": r.met_at,
                "reason": r.reason,
                "trigger": check.trigger,
                "evidence": check.evidence,
                "checked_by": check.checked_by,
                "checked_at": now,
                "current": True,
            }
            for r in tracked
        ],
    )


# Built once; run with parameters (the check log is written on every event).
_INSERT_CHECK = insert(EntitlementCheck.__table__)
_SUPERSEDE = (
    update(EntitlementCheck.__table__)
    .where(
        EntitlementCheck.__table__.c.referral_id == bindparam("of_referral"),
        EntitlementCheck.__table__.c.current.is_(True),
    )
    .values(current=False)
)


def reevaluate(
    session: Session,
    *,
    context: ReferralContext,
    caller: Caller | None,
    trigger: str,
    now: datetime,
) -> Evaluation:
    """Evaluate a stored referral again after `trigger`; log it and any new enhanced decision."""
    referral = context.referral
    evaluation = evaluate(
        context.edition, facts_for(context), now=now, calendar=calendar_for(context.settings)
    )
    decided = (evaluation.enhanced, list(evaluation.enhanced_reasons), evaluation.edition)
    before = (referral.enhanced, referral.enhanced_reasons, referral.vcop_edition)
    if caller is not None and (decided != before or trigger == "assessment"):
        audit.record(
            session,
            caller=caller,
            action="vcop_enhanced",
            now=now,
            referral_id=referral.id,
            version=referral.version,
            detail={
                "edition": evaluation.edition,
                "enhanced": evaluation.enhanced,
                "enhanced_reasons": list(evaluation.enhanced_reasons),
                "before": {"enhanced": before[0], "enhanced_reasons": before[1]},
            },
        )
    if decided != before:  # an unchanged row left clean costs the flush nothing
        referral.enhanced, referral.enhanced_reasons, referral.vcop_edition = decided
    record_evaluation(
        session,
        referral_id=referral.id,
        evaluation=evaluation,
        check=Check(
            trigger=trigger,
            checked_by=caller.user_id if caller else None,
            evidence={"action": trigger, "version": referral.version},
        ),
        now=now,
    )
    return evaluation


def evaluate_new(
    edition: Edition, facts: VcopFacts, *, now: datetime, settings: Settings
) -> Evaluation:
    """The first evaluation of a referral being created (nothing stored yet)."""
    return evaluate(edition, facts, now=now, calendar=calendar_for(settings))


def entitlements_view(session: Session, *, context: ReferralContext) -> VcopRead:
    """Each right of the referral's edition with its status, times and check history."""
    referral = context.referral
    current: dict[str, EntitlementCheck] = {}
    checks: dict[str, list[CheckRead]] = {}
    rows = session.execute(
        select(EntitlementCheck, User.username)
        .outerjoin(User, User.id == EntitlementCheck.checked_by)
        .where(EntitlementCheck.referral_id == referral.id)
        .order_by(EntitlementCheck.id)
    )
    for check, username in rows:
        if check.current:
            current[check.right] = check
        checks.setdefault(check.right, []).append(
            CheckRead(
                status=check.status,
                due_at=check.due_at,
                met_at=check.met_at,
                reason=check.reason,
                trigger=check.trigger,
                evidence=check.evidence,
                checked_by=username or ("system" if check.checked_by is None else None),
                checked_at=check.checked_at,
            )
        )
    rights = []
    for right in context.edition.rights:
        row = current.get(right.id)
        rights.append(
            RightRead(
                right=right.id,
                title=right.title,
                status=row.status if row else NOT_TRACKED,
                due_at=row.due_at if row else None,
                met_at=row.met_at if row else None,
                reason=row.reason if row else None,
                checks=checks.get(right.id, []),
            )
        )
    return VcopRead(
        edition=context.edition.edition,
        edition_title=context.edition.title,
        enhanced=bool(referral.enhanced),
        enhanced_reasons=referral.enhanced_reasons or [],
        rights=rights,
    )


def summary(
    session: Session,
    *,
    referral_id: UUID,
    referral_enhanced: bool | None,
    reasons: list[str] | None,
    edition: str | None,
) -> EntitlementSummary:
    """Next right falling due and any breach, for the referral's detail."""
    rows = list(
        session.scalars(
            select(EntitlementCheck).where(
                EntitlementCheck.referral_id == referral_id, EntitlementCheck.current.is_(True)
            )
        )
    )
    pending = sorted((e for e in rows if e.status == PENDING and e.due_at), key=lambda e: e.due_at)
    return EntitlementSummary(
        edition=edition,
        enhanced=referral_enhanced,
        enhanced_reasons=reasons,
        next_due=NextDue(right=pending[0].right, due_at=pending[0].due_at) if pending else None,
        breached=sorted(e.right for e in rows if e.status == BREACHED),
    )
