"""A referral's Victims' Code entitlements: evaluated again after each change, with the
enhanced decision kept on the referral, and shown."""

from datetime import datetime

from sqlalchemy.orm import Session

from triage.auth import service as auth_service
from triage.caller import Caller
from triage.referrals.context import ReferralContext
from triage.vcop import service as vcop_service
from triage.vcop.rights import Evaluation, evaluate
from triage.vcop.schemas import VcopRead
from triage.vcop.service import Enhancement


def evaluate_change(context: ReferralContext, *, now: datetime) -> tuple[Evaluation, Enhancement]:
    """The referral's rights as its rows stand now, with the enhanced decision and the next
    due time set on the referral (so the change that caused it writes them in the same
    UPDATE); answers the evaluation and the enhanced decision it replaced, for `log_change`."""
    referral = context.referral
    stored = (referral.enhanced, referral.enhanced_reasons, referral.vcop_edition)
    evaluation = evaluate(
        context.edition,
        context.vcop_facts(),
        now=now,
        calendar=vcop_service.calendar_for(context.settings),
    )
    decided = vcop_service.enhancement(evaluation)
    if decided != stored:  # an unchanged row left clean costs the flush nothing
        referral.enhanced, referral.enhanced_reasons, referral.vcop_edition = decided
    due = context.urgent_at((r.status, r.due_at) for r in evaluation.rights)
    if due != referral.urgent_at:
        referral.urgent_at = due
    return evaluation, stored


def log_change(
    session: Session,
    *,
    context: ReferralContext,
    evaluation: Evaluation,
    stored: Enhancement,
    caller: Caller | None,
    trigger: str,
    now: datetime,
) -> None:
    """The evaluation's check lines, and the enhanced decision audited if it changed, at the
    referral's version after the change."""
    vcop_service.log_evaluation(
        session,
        referral_id=context.referral.id,
        version=context.referral.version,
        evaluation=evaluation,
        stored=stored,
        caller=caller,
        trigger=trigger,
        now=now,
    )


def reevaluate(
    session: Session,
    *,
    context: ReferralContext,
    caller: Caller | None,
    trigger: str,
    now: datetime,
) -> Evaluation:
    """Evaluate a referral again where nothing else changed it (the deadline sweep, whose
    `caller` is None); log it and keep what it decides."""
    evaluation, stored = evaluate_change(context, now=now)
    log_change(
        session,
        context=context,
        evaluation=evaluation,
        stored=stored,
        caller=caller,
        trigger=trigger,
        now=now,
    )
    return evaluation


def entitlements_view(session: Session, *, context: ReferralContext) -> VcopRead:
    """Each right of the referral's edition with its status, times and check history."""
    referral = context.referral
    checks = vcop_service.checks_of(session, referral_id=referral.id)
    return vcop_service.entitlements_view(
        checks,
        checkers=auth_service.usernames(session, {c.checked_by for c in checks}),
        edition=context.edition,
        enhanced=referral.enhanced,
        enhanced_reasons=referral.enhanced_reasons,
    )
