"""A referral's Victims' Code entitlements: evaluated again after each change, with the
enhanced decision kept on the referral, and shown."""

from datetime import datetime

from sqlalchemy.orm import Session

from triage.auth import service as auth_service
from triage.caller import Caller
from triage.referrals.context import ReferralContext
from triage.vcop import service as vcop_service
from triage.vcop.rights import Evaluation
from triage.vcop.schemas import VcopRead


def reevaluate(
    session: Session,
    *,
    context: ReferralContext,
    caller: Caller | None,
    trigger: str,
    now: datetime,
) -> Evaluation:
    """Evaluate a stored referral again after `trigger`; log it and any new enhanced decision
    (`caller` None is the deadline sweep)."""
    referral = context.referral
    stored = (referral.enhanced, referral.enhanced_reasons, referral.vcop_edition)
    evaluation = vcop_service.check_entitlements(
        session,
        referral_id=referral.id,
        version=referral.version,
        edition=context.edition,
        facts=context.vcop_facts(),
        stored=stored,
        caller=caller,
        trigger=trigger,
        now=now,
        calendar=vcop_service.calendar_for(context.settings),
    )
    decided = vcop_service.enhancement(evaluation)
    if decided != stored:  # an unchanged row left clean costs the flush nothing
        referral.enhanced, referral.enhanced_reasons, referral.vcop_edition = decided
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
