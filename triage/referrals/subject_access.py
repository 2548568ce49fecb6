"""Subject access (DESIGN 11, UK GDPR article 15): everything held about the victim of one
referral, in one answer, for the triage unit to give them. Each request is audited with its
reason; a referral locked down to others is not found, as on every other path."""

from datetime import datetime

from sqlalchemy.orm import Session

from triage.audit import service as audit
from triage.caller import Caller
from triage.referrals.context import ReferralContext
from triage.referrals.entitlements import entitlements_view
from triage.referrals.schemas import AuditEventRead, ConsentChange, SubjectAccess
from triage.referrals.service import timeline_view
from triage.referrals.views import referral_view

CONSENT_ACTIONS = frozenset({"assessment", "consent"})


def subject_access(
    session: Session, *, context: ReferralContext, caller: Caller, reason: str, now: datetime
) -> SubjectAccess:
    """The referral as triage sees it (victim, contacts, assessment, offers and answers), the
    consent history, the Victims' Code rights with their whole check log, and the audit
    timeline; this request is audited before it is answered, so it is in the timeline too."""
    referral = context.referral
    audit.record(session, caller=caller, action="subject_access", now=now,
                 referral_id=referral.id, version=referral.version,
                 detail={"reason": reason})  # fmt: skip
    timeline = timeline_view(session, context=context, caller=caller)
    return SubjectAccess(
        generated_at=now,
        requested_by=caller.username,
        reason=reason,
        referral=referral_view(session, context, caller),
        consent_history=consent_history(timeline),
        victims_code=entitlements_view(session, context=context),
        timeline=timeline,
    )


def consent_history(timeline: list[AuditEventRead]) -> list[ConsentChange]:
    """Each time consent to share was recorded or changed, from the audit lines."""
    changes = []
    for line in timeline:
        if line.action not in CONSENT_ACTIONS:
            continue
        before, after = line.detail.get("before") or {}, line.detail.get("after") or {}
        said = (after.get("consent_to_share"), after.get("consent_method"))
        if said != (before.get("consent_to_share"), before.get("consent_method")):
            changes.append(ConsentChange(at=line.at, recorded_by=line.actor,
                                         share_with_provider=said[0], method=said[1]))  # fmt: skip
    return changes
