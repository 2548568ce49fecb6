"""Every query of the assessment domain."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.assessment.models import Assessment


def of_referral(session: Session, referral_id: UUID) -> Assessment | None:
    return session.scalar(select(Assessment).where(Assessment.referral_id == referral_id))


def of_referrals(session: Session, referral_ids: Sequence[UUID]) -> dict[UUID, Assessment]:
    rows = session.scalars(select(Assessment).where(Assessment.referral_id.in_(referral_ids)))
    return {assessment.referral_id: assessment for assessment in rows}


def add(session: Session, assessment: Assessment) -> Assessment:
    session.add(assessment)
    return assessment
