"""Writing a referral's assessment row: the answers of a body, consent with who recorded it.

The referral's use cases (`triage.referrals.assessing`) check scope, version and state, and
record the change; these functions only change the row and say what it was before and after.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from triage.assessment import repository
from triage.assessment.answers import Answers
from triage.assessment.models import Assessment
from triage.assessment.rules import risk_level
from triage.assessment.schemas import AssessmentBody, Consent
from triage.lifecycle.codes import VULNERABILITY_FLAGS

Snapshot = dict[str, Any] | None


def answers_of(assessment: Assessment | None) -> Answers | None:
    """A stored assessment's answers."""
    if assessment is None:
        return None
    return Answers(
        needs=tuple(assessment.needs),
        dash_score=assessment.dash_score,
        professional_judgement=assessment.professional_judgement,
        risk_level=assessment.risk_level,
        vulnerability={flag: getattr(assessment, flag) for flag in VULNERABILITY_FLAGS},
        consent_to_share=assessment.consent_to_share,
        consent_method=assessment.consent_method,
        restorative_justice_interest=assessment.restorative_justice_interest,
        care_leaver=assessment.care_leaver,
    )


def answers_from(body: AssessmentBody) -> Answers:
    """A body's answers, as they would be stored (for a routing preview)."""
    judgement = body.risk.professional_judgement
    level = risk_level(body.risk.dash_score, judgement)
    consent = body.consent
    return Answers(
        needs=tuple(n.value for n in body.needs),
        dash_score=body.risk.dash_score,
        professional_judgement=judgement.value if judgement else None,
        risk_level=level.value if level else None,
        vulnerability=body.vulnerability.model_dump(),
        consent_to_share=consent.share_with_provider if consent else None,
        consent_method=consent.method.value if consent and consent.method else None,
        restorative_justice_interest=body.restorative_justice_interest,
        care_leaver=body.care_leaver,
    )


def snapshot(assessment: Assessment | None) -> Snapshot:
    """The stored answers as plain data, for the audit log."""
    answers = answers_of(assessment)
    return answers.snapshot() if answers else None


def record_answers(
    session: Session,
    *,
    referral_id: UUID,
    assessment: Assessment | None,
    body: AssessmentBody,
    user_id: int | None,
    now: datetime,
) -> tuple[Assessment, Snapshot, Snapshot]:
    """Record (or replace) the answers; answers the row and its before and after."""
    if user_id is None:
        raise ValueError("an assessment is recorded by a signed-in user, not the service")
    before = snapshot(assessment)
    if assessment is None:
        assessment = repository.add(session, Assessment(referral_id=referral_id))
    answers = answers_from(body)
    assessment.needs = list(answers.needs)
    assessment.dash_score = answers.dash_score
    assessment.professional_judgement = answers.professional_judgement
    assessment.risk_level = answers.risk_level
    for flag, value in answers.vulnerability.items():
        setattr(assessment, flag, value)
    assessment.restorative_justice_interest = answers.restorative_justice_interest
    assessment.care_leaver = answers.care_leaver
    assessment.assessed_by = user_id
    assessment.assessed_at = now
    if body.consent is None:
        _set_consent(assessment, None, None, user_id, now, keep_if_same=False)
    else:
        _set_consent(assessment, answers.consent_to_share, answers.consent_method, user_id, now)
    return assessment, before, snapshot(assessment)


def record_consent(
    assessment: Assessment, *, consent: Consent, user_id: int | None, now: datetime
) -> tuple[Snapshot, Snapshot]:
    """Give or withdraw consent to share; answers the answers before and after."""
    before = snapshot(assessment)
    method = consent.method.value if consent.method else None
    _set_consent(assessment, consent.share_with_provider, method, user_id, now)
    return before, snapshot(assessment)


def _set_consent(
    assessment: Assessment,
    share: bool | None,
    method: str | None,
    user_id: int | None,
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
    assessment.consent_recorded_by = user_id if share is not None else None
    assessment.consent_recorded_at = now if share is not None else None
